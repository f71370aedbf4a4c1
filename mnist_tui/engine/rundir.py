"""A run's folder: settings, the event log other tools can read, checkpoints, snapshots, the log.

Everything that must survive a crash is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .. import strict_json
from ..errors import UsageError
from .events import (
    CheckpointSaved,
    EvalResult,
    Event,
    Finished,
    LayerStats,
    Mistakes,
    SnapshotTaken,
    StatusChanged,
    from_json,
)

CONFIG = "config.json"
EVENTS = "events.jsonl"
LOG = "run.log"
MODEL = "model.pdparams"


class RunDirError(UsageError):
    """The runs folder cannot be written, or a folder is not a usable run."""


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, runs_dir: str | Path, name: str | None = None) -> RunDir:
        root = Path(runs_dir)
        name = name or time.strftime("%Y%m%d-%H%M%S")
        try:
            root.mkdir(parents=True, exist_ok=True)
            for suffix in [""] + [f"-{i}" for i in range(1, 1000)]:
                try:
                    (root / (name + suffix)).mkdir()
                    break
                except FileExistsError:
                    continue
            run = cls(root / (name + suffix))
            for sub in ("checkpoints", "snapshots"):
                (run.path / sub).mkdir()
            probe = run.path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise RunDirError(f"{root}: cannot create a run folder there ({exc.strerror or exc})") from None
        return run

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS

    @property
    def log_path(self) -> Path:
        return self.path / LOG

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    def write_json(self, name: str, data: dict) -> None:
        atomic_write_text(self.path / name, strict_json.dumps(data, indent=2, default=str))

    def read_config(self) -> dict:
        try:
            return strict_json.loads((self.path / CONFIG).read_text())
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{self.path}: not a run folder ({CONFIG} unreadable: {exc})") from None


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class EventLog:
    """Appends every event as one JSON line, handed to the OS at once (viewers tail the file);
    synced to disk at milestones and at least once a second."""

    SYNC_ON = (EvalResult, Mistakes, LayerStats, SnapshotTaken, CheckpointSaved, Finished, StatusChanged)

    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - line-buffered, for the run's lifetime
        self._last_sync = time.monotonic()

    def __call__(self, event: Event) -> None:
        if self._file.closed:
            return
        self._file.write(strict_json.dumps(event.to_json(), default=float) + "\n")
        if isinstance(event, self.SYNC_ON) or time.monotonic() - self._last_sync >= 1.0:
            self.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        self.flush()
        self._file.close()


def read_events(path: str | Path) -> list[dict]:
    """Parse events.jsonl; a torn last line (a crash mid-write) is skipped with a warning."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    events = []
    for i, line in enumerate(lines):
        try:
            events.append(strict_json.loads(line))
        except ValueError:
            if i == len(lines) - 1:
                warnings.warn(f"{path}: skipped a torn last line ({len(line)} characters)", stacklevel=2)
            else:
                raise
    return events


class EventTail:
    """Reads an event log as it grows, whole lines only. A log rewritten in place (a resume drops
    the events after its checkpoint) is read again from the start, and `read` says so."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = None
        self._inode: int | None = None
        self._partial = b""

    def read(self) -> tuple[list[Event], bool]:
        """(events appended since the last call, whether the log was rewritten and re-read)."""
        restarted = False
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return [], False
        if self._file is not None and inode != self._inode:
            self.close()
            restarted = True
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open between reads
            self._inode, self._partial = inode, b""
        data = self._partial + self._file.read()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            try:
                event = from_json(strict_json.loads(line))
            except ValueError:
                continue  # a line torn by a crash, followed by a restart's lines
            if event is not None:
                events.append(event)
        return events, restarted

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
