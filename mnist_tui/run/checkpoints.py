"""Checkpoints in a run folder: `step-NNNNNNN.pdparams`, `.pdopt` and `.json` (where the loop
was, and the two state files' SHA-256). The `.json` is written last, so the newest checkpoint whose
three files exist counts. Finding a checkpoint and checking it against its checksums needs no
Paddle (viewers do it); saving and loading one is `engine/checkpoint.py`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mnist_tui.run.folder import RunDir, RunDirError, read_regular

STATES = (".pdparams", ".pdopt")


def stem(folder: Path, step: int) -> Path:
    return folder / f"step-{step:07d}"


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
