"""Checkpoints in a run folder: `step-NNNNNNN.pdparams`, `.pdopt` and `.json` (where the loop
was). Each file is written under a temporary name and renamed, and the `.json` comes last, so a
kill at any moment leaves whole checkpoints only: the newest one whose three files exist counts.
Paddle is imported by the functions that need it: finding a checkpoint must not load it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .rundir import RunDir, RunDirError


def stem(folder: Path, step: int) -> Path:
    return folder / f"step-{step:07d}"


def save(folder: Path, model, optimizer, position: dict) -> Path:
    """Model and optimizer state, then `position` (epoch, batch, step) as the checkpoint's metadata."""
    import paddle

    base = stem(folder, position["step"])
    for suffix, state in ((".pdparams", model.state_dict()), (".pdopt", optimizer.state_dict())):
        tmp = str(base) + suffix + ".tmp"
        paddle.save(state, tmp)
        os.replace(tmp, str(base) + suffix)
    tmp = Path(str(base) + ".json.tmp")
    tmp.write_text(json.dumps({**position, "time": time.time()}))
    os.replace(tmp, str(base) + ".json")
    return base


def newest(run: RunDir) -> dict | None:
    """The newest checkpoint's metadata (with its "stem") whose three files are all present."""
    for meta_path in sorted(run.checkpoints.glob("step-*.json"), reverse=True):
        base = meta_path.with_suffix("")
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            continue
        if Path(str(base) + ".pdparams").is_file() and Path(str(base) + ".pdopt").is_file():
            meta["stem"] = str(base)
            return meta
    return None


def load(meta: dict) -> dict:
    """`meta` with the model and optimizer states added; RunDirError if a file does not unpickle."""
    import paddle

    base = meta["stem"]
    try:
        return {**meta, "model_state": paddle.load(base + ".pdparams"), "optimizer_state": paddle.load(base + ".pdopt")}
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means a corrupt file
        raise RunDirError(f"{base}: checkpoint is corrupt ({type(exc).__name__}: {exc})") from None
