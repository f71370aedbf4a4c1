"""A run's folder: settings, the event log other tools can read, checkpoints, snapshots, the log.

Everything that must survive a crash is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import stat
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.errors import UsageError
from mnist_tui.run import strict_json
from mnist_tui.run.events import (
    Alert,
    CheckpointSaved,
    EvalResult,
    Event,
    Finished,
    LayerStats,
    Mistakes,
    SnapshotTaken,
    StatusChanged,
    from_json,
    newer_schema,
)

CONFIG = "config.json"
EVENTS = "events.jsonl"
LOG = "run.log"
MODEL = "model.pdparams"
RESERVE = ".space-reserve"  # the event log's reserve for its last lines when the disk fills


class RunDirError(UsageError):
    """The runs folder cannot be written, or a folder is not a usable run."""


class NewerSchema(RunDirError):
    """The log is written in a newer event schema than this code reads (events.SCHEMA_VERSION)."""


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

    def check_writable(self) -> None:
        """RunDirError (one line) unless the folder and its checkpoints/ and snapshots/ can be written:
        found before training, not at the first checkpoint an epoch later."""
        for folder in (self.path, self.checkpoints, self.snapshots):
            probe = folder / ".write-test"
            try:
                folder.mkdir(exist_ok=True)
                os.close(open_for_writing(probe, os.O_TRUNC))
                probe.unlink()
            except OSError as exc:
                raise RunDirError(f"{folder}: cannot be written ({exc.strerror or exc}); the run needs it "
                                  "for its checkpoints and log") from None

    def write_json(self, name: str, data: dict) -> None:
        atomic_write_text(self.path / name, strict_json.dumps(data, indent=2, default=str))

    def read_config(self) -> dict:
        try:
            saved = strict_json.loads(read_regular(self.path / CONFIG) or b"missing")
        except (ValueError, TypeError, LookupError) as exc:
            raise RunDirError(f"{self.path}: not a run folder ({CONFIG} unreadable: {exc})") from None
        if not isinstance(saved, dict):
            raise RunDirError(f"{self.path}: not a run folder ({CONFIG} holds no settings)")
        return saved


def atomic_write_text(path: Path, text: str) -> None:
    """Written under a temporary name and renamed into place; neither name is followed if it is a
    symbolic link (the rename replaces a link at the real name instead of writing through it)."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(open_for_writing(tmp, os.O_TRUNC), "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(tmp, path)


def open_for_writing(path: Path, mode: int = os.O_APPEND) -> int:
    """A file descriptor to write `path` (created if missing), never through a symbolic link:
    RunDirError (one line) when `path` is one."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | mode, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunDirError(f"{path}: is a symbolic link; a run folder's files must be its own "
                              "(remove the link)") from None
        raise


def refuse_symlinks(run_path: Path) -> None:
    """A run folder whose entries are symbolic links is refused: writing there would change files
    elsewhere (another run's, or anyone's)."""
    for folder in (run_path, run_path / "checkpoints", run_path / "snapshots"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                raise RunDirError(f"{entry.path}: is a symbolic link; a run folder's files must be its own "
                                  "(remove the link)")


def open_regular(path: Path):
    """`path` opened for reading (binary) if it is a regular file, else None; never blocks (a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def read_regular(path: Path) -> bytes:
    """A regular file's bytes, as many as it holds now (b"" when it is missing). Anything else (a
    FIFO, a device, a directory) is a RunDirError: opened non-blocking and checked before a byte is
    read, so nothing hangs and nothing is read without bound."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise RunDirError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise RunDirError(f"{path}: is {_kind(mode)}, not a file (a damaged run folder?)")
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read(os.fstat(fd).st_size)
    except OSError as exc:
        raise RunDirError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def no_event_in(data: bytes) -> str | None:
    """Why a log's bytes hold no event at all, or None (they hold one, or no whole line yet: a run
    that is starting). A few damaged lines among events are no reason: readers skip them."""
    start = 0
    while (end := data.find(b"\n", start)) != -1:
        if parse_event_line(data[start:end]) is not None:
            return None
        start = end + 1
    return None if start == 0 else "holds no event (its lines are junk, not JSON objects with a type)"


_STARTED = b'{"type": "RunStarted"'  # how the writer begins a RunStarted line


def newer_schema_in(data: bytes) -> str | None:
    """Why a log's bytes cannot be read by this code (a trainer's life in it is written in a newer
    event schema: events.newer_schema), or None. Only RunStarted lines carry the version."""
    start = 0
    while (found := data.find(_STARTED, start)) != -1:
        end = data.find(b"\n", found)
        end = len(data) if end == -1 else end
        at_line_start = found == 0 or data[found - 1:found] == b"\n"
        if at_line_start and (record := parse_event_line(data[found:end])) and (why := newer_schema(record)):
            return why
        start = end
    return None


def check_event_log(run_path: Path) -> None:
    """RunDirError (one line) unless the run's event log is missing, or a file that holds events
    this code can read (NewerSchema: written by a newer mnist-tui)."""
    path = run_path / EVENTS
    data = read_regular(path)
    if (why := no_event_in(data)) is not None:
        raise RunDirError(f"{path}: {why}")
    if (why := newer_schema_in(data)) is not None:
        raise NewerSchema(f"{path}: {why}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def parse_event_line(line: bytes | str) -> dict | None:
    """One line of an event log as a record, or None when it is not one (torn, junk, `42`, `[]`)."""
    try:
        text = line.decode() if isinstance(line, bytes) else line
        # The plain decoder for the usual line (json.loads' own checks cost a third of a long log's
        # opening); strict_json only where a non-finite value was written.
        record = strict_json.loads(text) if strict_json.SUFFIX in text else _DECODER.decode(text)
    except (ValueError, TypeError, LookupError):  # not JSON, or a hostile *_nonfinite marker
        return None
    return record if isinstance(record, dict) and isinstance(record.get("type"), str) else None


_DECODER = json.JSONDecoder()


class EventLog:
    """Appends every event as one JSON line, handed to the OS at once (viewers tail the file);
    synced to disk at milestones and at least once a second.

    A write that fails (a full disk) raises once, so the trainer ends the run as an error. The
    log keeps a little space in reserve next to it and gives it back then, so that the ending
    (ErrorRaised, Finished) still fits; later failures are dropped, never raised again."""

    SYNC_ON = (EvalResult, Mistakes, LayerStats, SnapshotTaken, CheckpointSaved, Finished, StatusChanged)
    RESERVE_BYTES = 64 * 1024

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = open_for_writing(self.path)
        self._last_sync = time.monotonic()
        self._torn = False  # a failed write may have left part of a line: the next one starts afresh
        self.failure: OSError | None = None
        self._reserve = self.path.with_name(RESERVE)
        try:
            fd = open_for_writing(self._reserve, os.O_TRUNC)
            try:
                os.posix_fallocate(fd, 0, self.RESERVE_BYTES)
            finally:
                os.close(fd)
        except OSError:
            self._give_back_reserve()  # no room even for that: the ending may not fit either

    def __call__(self, event: Event) -> None:
        if self._fd is None:
            return
        data = (strict_json.dumps(event.to_json(), default=float) + "\n").encode()
        try:
            self._write(b"\n" + data if self._torn else data)
            if isinstance(event, self.SYNC_ON) or time.monotonic() - self._last_sync >= 1.0:
                self.flush()
        except OSError as exc:
            self._failed(exc)

    def _write(self, data: bytes) -> None:
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError:
            self._torn = self._torn or written > 0
            raise
        self._torn = False

    def _failed(self, exc: OSError) -> None:
        if self.failure is not None:
            return  # told once; what follows (the run's ending) is tried and dropped
        self.failure = exc
        self._give_back_reserve()
        raise exc

    def _give_back_reserve(self) -> None:
        with contextlib.suppress(OSError):
            self._reserve.unlink()

    def flush(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                self._failed(exc)
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # told once already, or the ending could not be synced
            self.flush()
        os.close(self._fd)
        self._fd = None
        self._give_back_reserve()


def read_events(path: str | Path) -> list[dict]:
    """Parse events.jsonl; a line that is not an event (torn by a crash, damaged) is skipped with
    a warning naming it. RunDirError when the file is not a regular file, NewerSchema when a part
    of it is written in a newer event schema."""
    events, damaged = [], []
    for number, line in enumerate(read_regular(Path(path)).split(b"\n"), start=1):
        record = parse_event_line(line)
        if record is not None:
            if (why := newer_schema(record)) is not None:
                raise NewerSchema(f"{path}: {why}")
            events.append(record)
        elif line:  # not the empty rest after the last newline
            damaged.append(number)
    if damaged:
        warnings.warn(f"{path}: skipped {line_numbers(damaged)}: not events (torn or damaged)", stacklevel=2)
    return events


def line_numbers(numbers: list[int]) -> str:
    """"line 7" or "lines 7, 9, 12" (the first ten, then how many more)."""
    shown = ", ".join(map(str, numbers[:10])) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def newest_events(path: str | Path, tail_bytes: int = 256 * 1024) -> list[Event]:
    """The log's latest RunStarted and the events of its last `tail_bytes`, read without the rest:
    enough to show where a long run is while its whole history is read."""
    file = open_regular(Path(path))
    if file is None:
        return []
    with file:
        size = os.fstat(file.fileno()).st_size
        if not size:
            return []
        with mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as data:
            start = max(0, size - tail_bytes)
            first = data.rfind(b"\n", 0, start) + 1 if start else 0  # the first whole line
            started_at = data.rfind(b'{"type": "RunStarted"', 0, first)
            lines = data[first:data.rfind(b"\n") + 1].split(b"\n")
            if started_at >= 0 and (started_at == 0 or data[started_at - 1:started_at] == b"\n"):
                lines.insert(0, data[started_at:data.find(b"\n", started_at)])
    return events_of(path, (parse_event_line(line) for line in lines))[0]


def events_of(path: Path, records, on_record: Callable[[dict], None] | None = None) -> tuple[list[Event], str | None]:
    """The events of a log's records (None: a line that is not one; `on_record` is given each
    record read), up to a trainer's life written in a newer event schema, if any: that is read as
    an Alert saying so, the one line a viewer shows, and its reason is returned too."""
    events = []
    for record in records:
        if record is None:
            continue
        if record["type"] == "RunStarted" and (why := newer_schema(record)) is not None:  # the only carrier
            events.append(Alert("error", f"{path}: {why}"))
            return events, why
        if on_record is not None:
            on_record(record)
        if (event := from_json(record)) is not None:
            events.append(event)
    return events, None


class EventTail:
    """Reads an event log as it grows, whole lines only. A log rewritten in place (a resume drops
    the events after its checkpoint) is read again from the start, and `read` says so."""

    def __init__(self, path: str | Path, on_record: Callable[[dict], None] | None = None,
                 on_restart: Callable[[], None] | None = None) -> None:
        """`on_record`: also given each line's record as read (its `time` included); `on_restart`:
        called when a rewritten log is about to be read again from its start."""
        self.path = Path(path)
        self._file = None
        self._inode: int | None = None
        self._partial = b""
        self.on_record, self.on_restart = on_record, on_restart
        self.fraction_read = 0.0  # of the log's size when last read
        self.newer: str | None = None  # why it reads no further: a life written in a newer event schema

    def read(self, limit: int | None = None) -> tuple[list[Event], bool]:
        """(events appended since the last call, whether the log was rewritten and re-read);
        `limit`: read at most that many bytes now (a long log read in steps, with its progress)."""
        restarted = False
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            self.fraction_read = 1.0  # nothing to read is all read
            return [], False
        if self._file is not None and inode != self._inode:
            self.close()
            restarted, self.newer = True, None
            if self.on_restart is not None:
                self.on_restart()
        if self.newer is not None:  # said once, as an Alert; nothing after it is read as ours
            self.fraction_read = 1.0
            return [], restarted
        if self._file is None:
            self._file = open_regular(self.path)
            if self._file is None:
                self.fraction_read = 1.0
                return [], restarted  # not a file (a FIFO, a device): nothing to read, nothing to wait on
            self._inode, self._partial = inode, b""
        size = os.fstat(self._file.fileno()).st_size
        want = max(0, size - self._file.tell())
        data = self._partial + self._file.read(want if limit is None else min(want, limit))
        self.fraction_read = self._file.tell() / size if size else 1.0
        lines = data.split(b"\n")
        self._partial = lines.pop()
        records = (parse_event_line(line) for line in lines)  # None: torn by a crash (then a restart's), or damaged
        events, self.newer = events_of(self.path, records, self.on_record)
        if self.newer is not None:
            self.fraction_read = 1.0
        return events, restarted

    @property
    def position(self) -> tuple[int | None, int, str | None]:
        """(the log's inode, the bytes of whole lines read, `newer`): where another tail can `go_on_from`."""
        return self._inode, (self._file.tell() if self._file is not None else 0) - len(self._partial), self.newer

    def go_on_from(self, position: tuple[int | None, int, str | None]) -> None:
        """Read on from where another tail over the same log got (its `position`). A log rewritten
        since has another inode: the next `read` then starts again from its beginning, as always."""
        self.close()
        inode, offset, self.newer = position
        if inode is None:
            return
        self._file = open_regular(self.path)
        if self._file is not None:
            self._file.seek(offset)
            self._inode, self._partial = inode, b""

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
