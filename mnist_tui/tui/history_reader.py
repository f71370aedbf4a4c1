"""A long event log read and folded in a process of its own (a `watch` of a long run).

Parsing and folding a 270,000-event log is seconds of pure Python; in a thread it would hold the
interpreter lock and the screen would answer keys late. The process sends how much it has read,
then the folded state and where it stopped, so the viewer's tail goes on from there.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.run.events import Finished, StatusChanged
from mnist_tui.run.folder import EventTail
from mnist_tui.run.index import WallTime
from mnist_tui.tui.state import RunState

STEP_BYTES = 2 << 20  # read in steps this long, so the progress can be shown


@dataclass
class HistoryRead:
    state: RunState
    wall: WallTime
    position: tuple[int | None, int, str | None]  # EventTail.position after the last whole line
    engine_status: str | None
    finished: Finished | None


def newest_status(events: list, engine_status: str | None,
                  finished: Finished | None) -> tuple[str | None, Finished | None]:
    """(the newest StatusChanged's status, the Finished event) once `events` are read after those."""
    for event in events:
        if isinstance(event, StatusChanged):
            engine_status = event.status
        elif isinstance(event, Finished):
            finished = event
    return engine_status, finished


def fold_log(path: Path, progress: Callable[[float], None] = lambda fraction: None) -> HistoryRead:
    """The whole log as it is now, folded as the viewer folds it frame by frame."""
    wall = WallTime()
    tail = EventTail(path, on_record=wall.add, on_restart=wall.clear)
    state, status = RunState(), (None, None)
    while True:
        events, restarted = tail.read(STEP_BYTES)
        if restarted:
            state, status = RunState(), (None, None)
        state.apply(events)
        status = newest_status(events, *status)
        progress(tail.fraction_read)
        if tail.fraction_read >= 1.0:
            read = HistoryRead(state, wall, tail.position, *status)
            tail.close()
            return read


def main() -> None:
    """The child: fold the log named by its argument, each message pickled onto stdout."""
    out = sys.stdout.buffer

    def send(message) -> None:
        pickle.dump(message, out)
        out.flush()

    send(fold_log(Path(sys.argv[1]), send))


class HistoryProcess:
    """`fold_log` in a child process; `wait` (from a worker thread) gives its result, or None when
    it was stopped or failed (the caller then reads the log itself)."""

    def __init__(self, path: Path) -> None:
        # A plain child with pipes: multiprocessing's would pass the app's own stdout and stderr,
        # which Textual replaces.
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from mnist_tui.tui.history_reader import main; main()", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def wait(self, progress: Callable[[float], None]) -> HistoryRead | None:
        try:
            while True:
                message = pickle.load(self._process.stdout)
                if isinstance(message, HistoryRead):
                    return message
                progress(message)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            return None
        finally:
            self.stop()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
