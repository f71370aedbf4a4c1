"""A live run: what a process that trains holds in its run folder while it does.

The trainer lock, the event log on an event bus (with any other sinks), and the control channel,
taken and given back in one place for the headless trainer (engine/session.py, host/headless.py),
the Monitor (engine/monitor.py) and the tests' stand-in trainer (tests/scripted.py). They close
in one order: the channel, the sinks, the log, and the lock last, so a viewer never finds the run
without a trainer and without its end.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from mnist_tui.run.control import ControlServer, hold_trainer_lock
from mnist_tui.run.events import Event, EventBus
from mnist_tui.run.folder import EventLog, RunDir

CONTROL, EVENT_LOG = "control", "event log"  # the parts a failure is reported under


class LiveRun:
    """`on_failure(part, traceback)`: given (the Monitor), a sink or the log that raises is
    unsubscribed and reported to it, and closing goes on past a part that fails, so the training
    never sees the failure. None (our trainer): failures raise where the event was emitted; the
    event log raises once on a full disk, and the trainer ends its run as an error."""

    def __init__(self, run: RunDir, on_failure: Callable[[str, str], None] | None = None) -> None:
        self.run = run
        self.bus = EventBus()
        self.on_failure = on_failure
        self.log: EventLog | None = None
        self._lock = None
        self._own_lock = False
        self._server: ControlServer | None = None
        self._sinks: list[tuple[str, Callable]] = []  # (part, sink), closed with the run
        self.failed: set[str] = set()  # the parts switched off (with `on_failure`)
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def hold_lock(self, lock=None) -> LiveRun:
        """Take the run's trainer lock, or adopt `lock`, taken by a launcher that handed it down
        (host/background.py), which then releases it itself."""
        self._own_lock = lock is None
        self._lock = lock if lock is not None else hold_trainer_lock(self.run.path)
        return self

    def open_log(self) -> EventLog:
        self.log = EventLog(self.run.events_path)
        self.bus.subscribe(self._guarded(EVENT_LOG, self.log))
        return self.log

    def add_sink(self, sink: Callable[[Event], None], part: str) -> None:
        """Another reader of every event (TensorBoard); closed with the run if it has `close`."""
        self._sinks.append((part, sink))
        self.bus.subscribe(self._guarded(part, sink))

    def serve(self, target) -> LiveRun:
        """Serve the control channel for `target` (an object with control.COMMANDS as methods)."""
        self._server = ControlServer(self.run.path, target).start()
        return self

    @property
    def viewers(self) -> int:
        """Viewers attached to the control channel now."""
        return self._server.viewers if self._server is not None else 0

    def hold_while_watched(self, until: Callable[[], bool], holding: Callable[[], bool] = lambda: True,
                           each: Callable[[], None] | None = None, every: float = 0.2) -> bool:
        """Wait, looking every `every` s, until `until()` (False), or until nobody watches while
        `holding()` (True: the caller lets go). `each` runs at every look (the Monitor answers the
        final model's requests there)."""
        while not until():
            if holding() and not self.viewers:
                return True
            if each is not None:
                each()
            time.sleep(every)
        return False

    def close(self) -> None:
        """The channel, the sinks, the log, then the lock (unless adopted). Twice is once."""
        if self.closed:
            return
        self.closed = True
        server, self._server = self._server, None
        parts = [(CONTROL, server.close)] if server is not None else []
        parts += [(part, sink.close) for part, sink in self._sinks if hasattr(sink, "close")]
        parts += [(EVENT_LOG, self.log.close)] if self.log is not None else []
        first_failure = None
        try:
            for part, close in parts:  # a part that raises does not keep the next from closing
                try:
                    self._closing(part, close)
                except Exception as exc:  # noqa: BLE001 - raised below, once all is closed
                    first_failure = first_failure or exc
        finally:
            if self._own_lock and self._lock is not None:
                self._lock.close()
        if first_failure is not None:
            raise first_failure

    def _guarded(self, part: str, sink: Callable[[Event], None]) -> Callable[[Event], None]:
        if self.on_failure is None:
            return sink

        def guarded(event: Event) -> None:
            try:
                sink(event)
            except Exception:  # noqa: BLE001 - reported and switched off; the training goes on
                if self.bus.unsubscribe(guarded):  # once, though two threads may fail at once
                    self.failed.add(part)
                    self.on_failure(part, traceback.format_exc())
        return guarded

    def _closing(self, part: str, close: Callable[[], None]) -> None:
        if self.on_failure is None:
            close()
            return
        try:
            close()
        except Exception:  # noqa: BLE001 - the rest still closes, the lock last
            if part not in self.failed:  # a part that failed already was told once
                self.failed.add(part)
                self.on_failure(part, traceback.format_exc())
