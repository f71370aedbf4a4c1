"""Saving and loading a checkpoint's Paddle state files (the layout, listing and checksums are
`run/checkpoints.py`). Each file is written under a temporary name and renamed, and the `.json`
comes last, so a kill at any moment leaves whole checkpoints only.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import paddle

from mnist_tui.run.checkpoints import STATES, sha256, stem
from mnist_tui.run.folder import RunDirError, atomic_write_text


def save(folder: Path, model, optimizer, position: dict) -> Path:
    """Model and optimizer state, then `position` (epoch, batch, step) and the states' checksums as
    the checkpoint's metadata. A failed write (a full disk) leaves no temporary file behind."""
    base = stem(folder, position["step"])
    sums = {}
    try:
        for suffix, state in zip(STATES, (model.state_dict(), optimizer.state_dict())):
            tmp = str(base) + suffix + ".tmp"
            _remove(tmp)  # a link planted under the temporary name is removed, not written through
            paddle.save(state, tmp)
            sums[suffix] = sha256(tmp)
            os.replace(tmp, str(base) + suffix)
        atomic_write_text(Path(str(base) + ".json"), json.dumps({**position, "time": time.time(), "sha256": sums}))
    except BaseException:
        for leftover in (*(str(base) + suffix for suffix in sums), *(str(base) + s + ".tmp" for s in (*STATES, ".json"))):
            _remove(leftover)  # an incomplete checkpoint counts for nothing: its space goes back
        raise
    return base


def save_model(model, path: Path) -> None:
    """The model's weights alone (the trained model, run/folder.py's MODEL), under a temporary name
    first, then renamed."""
    tmp = str(path) + ".tmp"
    _remove(tmp)  # a link planted there is removed, not written through
    paddle.save(model.state_dict(), tmp)
    os.replace(tmp, str(path))


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def load(meta: dict) -> dict:
    """`meta` with the model and optimizer states added; RunDirError if a file does not unpickle."""
    base = meta["stem"]
    try:
        return {**meta, "model_state": paddle.load(base + ".pdparams"), "optimizer_state": paddle.load(base + ".pdopt")}
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means a corrupt file
        raise RunDirError(f"{base}: checkpoint is corrupt ({type(exc).__name__}: {exc})") from None
