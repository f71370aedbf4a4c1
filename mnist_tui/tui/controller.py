"""A viewer's side of one run: its events as the log grows, its status, and its controls.

The one owner of the run's status in a viewer (engine/run_status.py decides it from the log and
the trainer's lock). No Textual here; the app polls it once a frame.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..engine.control import ControlClient, ControlError, trainer_alive
from ..engine.events import Event, Finished, StatusChanged
from ..engine.run_status import RunStatus, status_of
from ..engine.rundir import CONFIG, EventTail

STARTING_HINT = "Training is starting (loading data and Paddle): try again in a moment."


class RunController:
    def __init__(self, run_path: str | Path, process=None) -> None:
        self.run_path = Path(run_path)
        self.process = process  # the background trainer, when this viewer started it (subprocess.Popen)
        self._tail = EventTail(self.run_path / "events.jsonl")
        self._client = ControlClient(self.run_path)
        self.engine_status: str | None = None
        self.finished: Finished | None = None
        self.alive = trainer_alive(self.run_path)
        self.stop_sent = False
        self._next_connect = 0.0

    @property
    def name(self) -> str:
        return self.run_path.name

    @property
    def resumable(self) -> bool:
        """`mnist-tui --resume` can go on with it: our trainer's run, not a Monitor's."""
        try:
            return "source" not in json.loads((self.run_path / CONFIG).read_text())
        except (OSError, ValueError):
            return True

    @property
    def wall_s(self) -> float | None:
        """From the log's first event to its newest: an ended run's wall time, start-up included."""
        first, last = self._tail.first_time, self._tail.last_time
        return None if first is None or last is None else last - first

    @property
    def status(self) -> RunStatus:
        return status_of(self.engine_status, self.finished.status if self.finished else None, self.alive)

    def poll(self) -> tuple[list[Event], bool]:
        """New events, and whether the log was rewritten (a resume: the caller starts over)."""
        # Liveness first: a trainer found gone has written all it ever will, so the read below sees
        # its Finished event if there is one, and a clean end is never shown as a crash.
        self.alive = trainer_alive(self.run_path)
        events, restarted = self._tail.read()
        if restarted:
            self.engine_status, self.finished = None, None
        for event in events:
            if isinstance(event, StatusChanged):
                self.engine_status = event.status
            elif isinstance(event, Finished):
                self.finished = event
        self._stay_connected()
        return events, restarted

    def _stay_connected(self) -> None:
        """Keep a connection open while the trainer lives: it then knows a viewer is attached."""
        if not self.alive:
            self._client.close()
        elif not self._client.connected and time.monotonic() >= self._next_connect:
            began = time.monotonic()
            try:
                self._client.connect()
            except ControlError:
                # Not serving yet (refused at once): try again soon, so the trainer knows a viewer is
                # there before anything happens. Accepting but not answering: back off, the UI waits.
                slow = time.monotonic() - began > 0.5
                self._next_connect = time.monotonic() + (2.0 if slow else 0.25)

    def send(self, command: str, argument: str = "") -> str | None:
        """Send a control; None when sent, else why it could not act (for the screen)."""
        if not self.alive:
            if self.status is RunStatus.CRASHED:
                return f"The trainer is gone (crashed): nothing can act. Resume with mnist-tui --resume {self.run_path}"
            return "The trainer has exited: this run is read-only."
        try:
            self._client.send(command, argument)
        except ControlError as exc:
            if self.status is RunStatus.STARTING:
                return STARTING_HINT
            return f"The trainer did not take it: {exc}"
        if command == "stop":
            self.stop_sent = True
        return None

    def stop(self) -> str | None:
        """Stop the run (the trainer checkpoints first). A trainer this viewer started that cannot
        be reached yet gets SIGTERM instead, which its headless loop treats the same way."""
        why = self.send("stop")
        if why is not None and self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.stop_sent = True
            return None
        return why

    def close(self) -> None:
        self._client.close()
        self._tail.close()
