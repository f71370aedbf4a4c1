"""What the control channel asked of a training loop: pause, resume and stop, and the one-off
requests (validation, layer statistics, snapshot, checkpoint). Set from any thread (the channel's),
taken by the loop at its next batch boundary. Our trainer (loop.py) and the Monitor on other loops
(monitor.py) keep theirs in one `Requests` each.
"""

from __future__ import annotations

import threading

VALIDATION, STATS, SNAPSHOT, CHECKPOINT = "validation", "stats", "snapshot", "checkpoint"


class Requests:
    def __init__(self, start_paused: bool = False) -> None:
        self._running = threading.Event()
        self._stopped = threading.Event()
        if not start_paused:
            self._running.set()
        self._lock = threading.Lock()
        self._asked: set[str] = set()
        self.snapshot_layer = ""  # the layer asked for with the last snapshot request ("": the default ones)

    # ---- pause, resume, stop ----
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self) -> None:
        self._stopped.set()
        self._running.set()  # a paused loop wakes up to end

    @property
    def stop_requested(self) -> bool:
        return self._stopped.is_set()

    def wait_until_running(self, timeout: float | None = None) -> bool:
        """Wait while paused (at most `timeout` seconds); True once running (or stopped)."""
        return self._running.wait(timeout)

    def wait_for_stop(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)

    # ---- one-off requests ----
    def ask(self, what: str, layer: str = "") -> None:
        """`what`: VALIDATION, STATS, SNAPSHOT or CHECKPOINT; `layer`: a snapshot's layer."""
        with self._lock:
            if what == SNAPSHOT:
                self.snapshot_layer = layer
            self._asked.add(what)

    def asked(self, what: str) -> bool:
        """Whether `what` is asked for, leaving it asked."""
        with self._lock:
            return what in self._asked

    def take(self, what: str) -> bool:
        """Whether `what` was asked for; it is not any more."""
        with self._lock:
            asked = what in self._asked
            self._asked.discard(what)
            return asked


class Controlled:
    """The control channel's pause, resume and stop (run/control.py's COMMANDS) for a loop that keeps
    its `Requests` in `self.requests`; the `request_*` commands are each loop's own."""

    requests: Requests

    def pause(self) -> None:
        self.requests.pause()

    def resume(self) -> None:
        self.requests.resume()

    def toggle_pause(self) -> None:
        self.resume() if self.paused else self.pause()

    @property
    def paused(self) -> bool:
        return self.requests.paused

    def stop(self) -> None:
        self.requests.stop()

    @property
    def stop_requested(self) -> bool:
        return self.requests.stop_requested
