"""Training in a child process, so that the app's Python never competes with it for the GIL.

Paddle's ops release the GIL, but the Python between them does not: in one process, every
millisecond the UI thread spends drawing stalls the training thread for as long. In a child
process the trainer has its own interpreter; the app keeps this proxy, whose controls are the
Trainer's, and drains the events the child sends in batches (every 50 ms at most).
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from ..errors import UsageError
from .events import BatchMetrics, ErrorRaised, Event, Finished, StatusChanged
from .rundir import RunDir
from .session import Session

CONTROLS = ("pause", "resume", "toggle_pause", "stop", "request_validation", "request_layer_stats",
            "request_snapshot", "request_checkpoint", "toggle_auto_stats")
SEND_EVERY_S = 0.05
TRAINER_NICENESS = 5
FAULT_ENV = "MNIST_TUI_INJECT_FAULT"  # tests set it to make the child's training raise


class TrainerProcess:
    """A Trainer in a child process, with the Trainer's controls (fire and forget, thread-safe)."""

    def __init__(self, session: Session, pause_on_divergence: bool = True, start_paused: bool = False) -> None:
        ctx = mp.get_context("spawn")  # the parent runs threads (Textual): never fork it
        with _real_std_streams():
            self._inbox = ctx.Queue()
        self._commands, child_commands = ctx.Pipe()
        meta = {k: v for k, v in (session.resume_meta or {}).items() if not k.endswith("_state")} or None
        self._process = ctx.Process(
            target=_child_main, name="mnist-tui-trainer", daemon=True,
            args=(session.cfg, str(session.run.path), session.data_dir, meta, pause_on_divergence, start_paused,
                  child_commands, self._inbox),
        )
        self._child_commands = child_commands
        self._lock = threading.Lock()
        self.status = "starting"
        self.step = 0  # batches done, as last reported
        self.usage_error: str | None = None
        self.final_status: str | None = None

    def start(self) -> None:
        with _real_std_streams():
            self._process.start()
        self._child_commands.close()  # the child holds it now; its EOF tells the child we are gone

    # ---- controls ----
    def _send(self, name: str) -> None:
        with self._lock:
            try:
                self._commands.send(name)
            except (BrokenPipeError, OSError):
                pass  # the child has ended: nothing left to control

    def __getattr__(self, name: str):
        if name in CONTROLS:
            return lambda: self._send(name)
        raise AttributeError(name)

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    # ---- events ----
    def receive(self, timeout: float = 0.1) -> list[Event]:
        """Events the child sent since the last call (waits up to `timeout` for the first batch)."""
        events: list[Event] = []
        try:
            message = self._inbox.get(timeout=timeout)
            while True:
                kind, payload = message
                if kind == "events":
                    events.extend(payload)
                elif kind == "usage_error":
                    self.usage_error = payload
                elif kind == "exit":
                    self.final_status = payload
                message = self._inbox.get_nowait()
        except queue.Empty:
            pass
        for event in events:
            if isinstance(event, StatusChanged):
                self.status = event.status
            elif isinstance(event, BatchMetrics):
                self.step = event.step + 1
            elif isinstance(event, Finished):
                self.status = event.status
        return events

    def run_until_done(self, emit) -> str:
        """Forward every event to `emit` until the child ends; return its final status."""
        while self.final_status is None and self.usage_error is None:
            for event in self.receive(0.1):
                emit(event)
            if not self._process.is_alive() and self.final_status is None and self.usage_error is None:
                for event in self.receive(0.5):  # whatever was still in flight
                    emit(event)
                if self.final_status is None and self.usage_error is None:
                    code = self._process.exitcode
                    emit(ErrorRaised(f"the training process ended unexpectedly (exit code {code})"))
                    self.final_status = "error"
        self._process.join(10)
        return self.final_status or "error"


@contextlib.contextmanager
def _real_std_streams():
    """multiprocessing hands sys.stderr's fd to its helper processes; Textual replaces sys.stderr
    with an object that has none, so the real streams are put back while processes start."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _child_main(cfg, run_path, data_dir, resume_meta, pause_on_divergence, start_paused, commands, inbox) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app decides when to stop
    # Training takes every core (engine/shards.py); at a lower priority, the UI still gets a core the
    # moment a key or a frame wakes it, and training gets all the rest.
    os.nice(TRAINER_NICENESS)
    session = Session(cfg, RunDir(Path(run_path)), data_dir, resume_meta)
    outbox: collections.deque = collections.deque()
    session.bus.subscribe(outbox.append)
    done = threading.Event()

    def flush() -> None:
        batch = []
        while outbox:
            batch.append(outbox.popleft())
        if batch:
            inbox.put(("events", batch))

    def send_regularly() -> None:
        while not done.wait(SEND_EVERY_S):
            flush()

    try:
        trainer = session.make_trainer(pause_on_divergence, start_paused)
    except UsageError as exc:
        inbox.put(("usage_error", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - reported to the app, which stays usable
        session.bus.emit(ErrorRaised(f"{type(exc).__name__}: {exc}", traceback.format_exc(), str(session.run.log_path)))
        flush()
        inbox.put(("exit", "error"))
        return
    if os.environ.get(FAULT_ENV):
        def fail():
            raise RuntimeError(os.environ[FAULT_ENV])
        trainer._train = fail
    threading.Thread(target=_obey, args=(commands, trainer), daemon=True).start()
    sender = threading.Thread(target=send_regularly, daemon=True)
    sender.start()
    status = session.run_trainer()
    trainer.serve_final_model()  # until the app quits (its pipe closing also stops it)
    session.close()
    done.set()
    sender.join()
    flush()
    inbox.put(("exit", status))


def _obey(commands, trainer) -> None:
    """Apply the app's controls; if the app goes away (pipe closed), stop with a checkpoint."""
    while True:
        try:
            name = commands.recv()
        except (EOFError, OSError):
            trainer.stop()
            return
        if name in CONTROLS:
            getattr(trainer, name)()
        time.sleep(0)
