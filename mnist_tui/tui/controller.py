"""A viewer's side of one run: its events as the log grows, its status, and its controls.

The one owner of the run's status in a viewer (run/status.py decides it from the log and the
trainer's lock). No Textual here. The folder is read with `read` from any thread (the app: a
worker, once a frame) and what it found is taken in with `take` on the viewer's own thread, so the
status is never seen half-updated. The control channel is used from a thread of its own
(connecting, sending, waiting for answers), never from the caller's: a trainer stopped by the OS
would otherwise freeze the viewer.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.run.control import AnotherRunsTrainer, ControlClient, ControlError, trainer_alive
from mnist_tui.run.events import Event, Finished
from mnist_tui.run.folder import CONFIG, EventTail, RunDirError, newest_events, read_regular
from mnist_tui.run.index import WallTime
from mnist_tui.run.status import RunStatus, status_of
from mnist_tui.tui.history_reader import HistoryProcess, newest_status
from mnist_tui.tui.state import RunState

STARTING_HINT = "Training is starting (loading data and Paddle): try again in a moment."
RETRY_S, BACK_OFF_S = 0.25, 2.0  # reconnecting: soon after a refusal, later after a trainer that did not greet

Answered = Callable[[str | None], None]  # None: carried out; else why not, for the screen


@dataclass(frozen=True)
class FolderRead:
    """What one read of the run folder found: new events, whether the log was rewritten, whether
    the trainer lived (looked at first: see `RunController.read`)."""

    events: list[Event]
    restarted: bool
    alive: bool


class RunController:
    def __init__(self, run_path: str | Path, process=None) -> None:
        self.run_path = Path(run_path)
        self.process = process  # the background trainer, when this viewer started it (subprocess.Popen)
        self._wall = WallTime()
        self._created: float | None = None  # config.json's, read by `read` once the file is there
        self._config_read = False
        self._tail = EventTail(self.run_path / "events.jsonl", on_record=lambda record: self._wall.add(record),
                               on_restart=lambda: self._wall.clear())
        self._client = ControlClient(self.run_path)
        self._reading = threading.Lock()  # the tail is used by one thread at a time (a worker's, then the UI's)
        self._history: HistoryProcess | None = None
        self.engine_status: str | None = None
        self.finished: Finished | None = None
        self.alive = trainer_alive(self.run_path)
        self.stop_sent = False
        self.pending: str | None = None  # a command sent whose answer has not come yet
        self.refused: str | None = None  # why the channel was refused (it leads to another run's trainer)
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()
        threading.Thread(target=self._talk, name="mnist-tui-controls", daemon=True).start()

    @property
    def name(self) -> str:
        return self.run_path.name

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def resumable(self) -> bool:
        """`mnist-tui --resume` can go on with it: our trainer's run, not a Monitor's."""
        try:
            return "source" not in json.loads(read_regular(self.run_path / CONFIG))
        except (RunDirError, ValueError, TypeError):
            return True

    @property
    def wall_s(self) -> float | None:
        """The run's wall time as the runs table gives it (runs_index.WallTime)."""
        return self._wall.seconds(self._created)

    def _read_created(self) -> None:
        try:
            self._created = float(json.loads(read_regular(self.run_path / CONFIG)).get("created") or 0) or None
            self._config_read = True
        except (RunDirError, ValueError, TypeError, AttributeError):
            self._created = None

    @property
    def status(self) -> RunStatus:
        return status_of(self.engine_status, self.finished.status if self.finished else None, self.alive)

    def poll(self) -> tuple[list[Event], bool]:
        """New events, and whether the log was rewritten (a resume: the caller starts over)."""
        return self.take(self.read())

    def read(self) -> FolderRead:
        """Read the folder (from any thread): blocks as long as the disk does. Changes no status."""
        # Liveness first: a trainer found gone has written all it ever will, so the read below sees
        # its Finished event if there is one, and a clean end is never shown as a crash.
        alive = trainer_alive(self.run_path)
        if not self._config_read:
            self._read_created()  # here rather than in the header's `wall_s`, on the viewer's thread
        with self._reading:  # closed meanwhile (the view has gone): the tail is not opened again
            events, restarted = ([], False) if self._closed.is_set() else self._tail.read()
        return FolderRead(events, restarted, alive)

    def take(self, read: FolderRead) -> tuple[list[Event], bool]:
        """Take in what `read` found (on the viewer's thread): the status follows it."""
        self.alive = read.alive
        if read.restarted:
            self.engine_status, self.finished = None, None
        self.engine_status, self.finished = newest_status(read.events, self.engine_status, self.finished)
        return read.events, read.restarted

    def newest(self) -> list[Event]:
        """The log's latest start and last events (rundir.newest_events), the status set as they
        tell it: what a view shows of a long log while `read_history` reads it."""
        events = newest_events(self.run_path / "events.jsonl")
        if not self._config_read:
            self._read_created()
        self.alive = trainer_alive(self.run_path)
        self.engine_status, self.finished = newest_status(events, None, None)
        return events

    def read_history(self, progress: Callable[[float], None]) -> RunState | None:
        """The whole log as it is now, folded in a process of its own (history_reader; call from a
        worker thread), `progress` given the fraction read; the controller then follows the log
        from where that read ended. None: stopped or failed, and `poll` reads the log as usual."""
        self._history = HistoryProcess(self.run_path / "events.jsonl")
        if self._closed.is_set():
            self._history.stop()
        read = self._history.wait(progress)
        with self._reading:
            if read is None or self._closed.is_set():
                return None
            self._tail.go_on_from(read.position)
            self._wall = read.wall
        self.engine_status, self.finished = read.engine_status, read.finished
        return read.state

    def send(self, command: str, argument: str = "", answered: Answered = lambda why: None,
             waiting: Callable[[], None] = lambda: None) -> str | None:
        """Send a control without waiting for the trainer: None when it is on its way (then
        `answered(why)` says how it went and `waiting()` that the answer is late, both from the
        control thread), else why it cannot go at all."""
        if not self.alive:
            if self.status is RunStatus.CRASHED:
                return f"The trainer is gone (crashed): nothing can act. Resume with mnist-tui --resume {self.run_path}"
            return "The trainer has exited: this run is read-only."
        if self.pending is not None:
            return "The trainer has not answered the previous control yet (it is pending): one at a time."
        self.pending = command
        self._outbox.put((command, argument, answered, waiting))
        return None

    def stop(self, answered: Answered = lambda why: None) -> str | None:
        """Stop the run (the trainer checkpoints first), as `send`. A trainer this viewer started
        that cannot be reached gets SIGTERM instead, which its headless loop treats the same way."""
        def stopped(why: str | None) -> None:
            if why is not None:
                self.stop_sent = self._terminate()
            answered(None if self.stop_sent else why)

        self.stop_sent = True
        why = self.send("stop", answered=stopped)
        if why is not None:
            self.stop_sent = self._terminate()
        return None if self.stop_sent else why

    def _terminate(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        self.process.terminate()
        return True

    def _talk(self) -> None:
        """The control thread: keep a connection open while the trainer lives (it then knows a
        viewer is attached), and carry the controls to it one at a time."""
        next_connect = 0.0
        while not self._closed.is_set():
            try:
                job = self._outbox.get(timeout=RETRY_S)
            except queue.Empty:
                job = None
            if not self.alive:
                self._client.close()
            elif not self._client.connected and time.monotonic() >= next_connect:
                began = time.monotonic()
                try:
                    self._client.connect()
                    self.refused = None
                except ControlError as exc:
                    # Not serving yet (refused at once): try again soon. Not greeting: later.
                    slow = time.monotonic() - began > 0.5
                    next_connect = time.monotonic() + (BACK_OFF_S if slow else RETRY_S)
                    if isinstance(exc, AnotherRunsTrainer):
                        self.refused = f"Controls are off: {exc}."
            if job is not None:
                self._deliver(*job)
        # close() may have run while a connect was under way: an open channel would keep a
        # trainer holding for a viewer that has left.
        self._client.close()

    def _deliver(self, command: str, argument: str, answered: Answered, waiting: Callable[[], None]) -> None:
        try:
            self._client.send(command, argument, waiting=waiting)
            why = None
        except ControlError as exc:
            why = STARTING_HINT if self.status is RunStatus.STARTING else f"The trainer did not take it: {exc}"
        self.pending = None
        answered(why)

    def close(self) -> None:
        self._closed.set()
        self._client.close()
        if self._history is not None:
            self._history.stop()
        # A read under way (a slow or hung disk) holds the tail: it is closed once that read ends,
        # by a thread of its own, so that leaving a run never waits on its folder.
        if self._reading.acquire(blocking=False):
            try:
                self._tail.close()
            finally:
                self._reading.release()
        else:
            threading.Thread(target=self._close_tail, name="mnist-tui-close-log", daemon=True).start()

    def _close_tail(self) -> None:
        with self._reading:
            self._tail.close()
