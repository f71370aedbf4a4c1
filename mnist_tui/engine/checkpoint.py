"""Checkpoints in a run folder: `step-NNNNNNN.pdparams`, `.pdopt` and `.json` (where the loop
was, and the two state files' SHA-256). Each file is written under a temporary name and renamed,
and the `.json` comes last, so a kill at any moment leaves whole checkpoints only: the newest one
whose three files exist counts. Paddle is imported by the functions that need it: finding a
checkpoint, and checking it against its checksums, must not load it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from .rundir import RunDir, RunDirError, atomic_write_text, read_regular

STATES = (".pdparams", ".pdopt")


def stem(folder: Path, step: int) -> Path:
    return folder / f"step-{step:07d}"


def save(folder: Path, model, optimizer, position: dict) -> Path:
    """Model and optimizer state, then `position` (epoch, batch, step) and the states' checksums as
    the checkpoint's metadata. A failed write (a full disk) leaves no temporary file behind."""
    import paddle

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


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def complete(run: RunDir) -> list[dict]:
    """The checkpoints whose three files are present and whose metadata reads, newest first; each
    meta with its "stem"."""
    found = []
    for meta_path in sorted(run.checkpoints.glob("step-*.json"), reverse=True):
        base = meta_path.with_suffix("")
        try:
            meta = json.loads(read_regular(meta_path))
        except (RunDirError, ValueError):
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
            continue
        if all(Path(str(base) + suffix).is_file() for suffix in STATES):
            found.append({**meta, "stem": str(base)})
    return found


def newest(run: RunDir) -> dict | None:
    """The newest checkpoint's metadata (with its "stem") whose three files are all present."""
    found = complete(run)
    return found[0] if found else None


def damage(meta: dict) -> str | None:
    """Why a checkpoint's state files do not match the checksums saved with them (None: they do,
    or it was saved before checksums were)."""
    sums = meta.get("sha256")
    if not isinstance(sums, dict):
        return None
    for suffix in STATES:
        try:
            if sha256(meta["stem"] + suffix) != sums.get(suffix):
                return f"{Path(meta['stem']).name}{suffix} does not match its checksum (corrupt)"
        except OSError as exc:
            return f"{Path(meta['stem']).name}{suffix} cannot be read ({exc.strerror or exc})"
    return None


def load(meta: dict) -> dict:
    """`meta` with the model and optimizer states added; RunDirError if a file does not unpickle."""
    import paddle

    base = meta["stem"]
    try:
        return {**meta, "model_state": paddle.load(base + ".pdparams"), "optimizer_state": paddle.load(base + ".pdopt")}
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means a corrupt file
        raise RunDirError(f"{base}: checkpoint is corrupt ({type(exc).__name__}: {exc})") from None
