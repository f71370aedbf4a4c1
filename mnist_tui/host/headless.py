"""Headless mode: the course's log lines on stdout, the exit status tells how the run ended.

Every run trains this way, also the app's (in a background process, background.py): the trainer
holds the run folder's lock and serves its control channel, so any number of viewers can watch
and steer it (`mnist-tui watch`), and it outlives them all.
"""

from __future__ import annotations

import errno
import signal
import sys
import threading
import time

from mnist_tui import exit_codes
from mnist_tui.engine.session import Session
from mnist_tui.run.control import COMMANDS, ControlError
from mnist_tui.run.live import LiveRun
from mnist_tui.run.status import RunStatus
from mnist_tui.sinks.course_log import CoursePrinter


class Controls:
    """What the control channel acts on: the trainer once it is built. Before that (Paddle and the
    data are loading) a stop is kept for later and anything else is refused with the reason."""

    def __init__(self) -> None:
        self._trainer = None
        self._stop_wanted = False
        self._lock = threading.RLock()  # a signal handler may call stop() on the thread that holds it

    def attach(self, trainer) -> None:
        with self._lock:
            self._trainer = trainer
            if self._stop_wanted:
                trainer.stop()

    def __getattr__(self, name: str):
        if name not in COMMANDS:
            raise AttributeError(name)
        return lambda *argument: self._act(name, *argument)

    def _act(self, name: str, *argument: str) -> None:
        with self._lock:
            if self._trainer is not None:
                getattr(self._trainer, name)(*argument)
            elif name == "stop":
                self._stop_wanted = True
            else:
                raise ControlError("training is starting (loading data and Paddle): try again in a moment")


def run_headless(session: Session, check_shape: bool = False, err=None, out=None, lock=None,
                 start_paused: bool = False, hold_for_viewers: bool = False) -> int:
    """Train to the end with the control channel up; `lock`: the trainer lock, when the caller
    already holds it (the app's launcher does; the caller then releases it). `hold_for_viewers`:
    on divergence, hold the broken network paused while a viewer is attached (the app's runs),
    instead of ending at once; the last viewer leaving ends the hold."""
    err = err or sys.stderr
    # Until the trainer exists, a stop signal waits: Python's default handler, and the one importing
    # Paddle installs, would end the process with no Finished event, a run that looks crashed.
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # a terminal's hang-up stops a foreground run cleanly
        signals.append(signal.SIGHUP)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    live = session.live
    session.bus.subscribe(CoursePrinter(check_shape, out))
    if session.tensorboard:
        from mnist_tui.sinks.tensorboard import TensorBoardSink

        live.add_sink(TensorBoardSink(session.tensorboard), "tensorboard")
    live.hold_lock(lock)
    controls = Controls()
    live.serve(controls)  # its thread inherits the blocked signals
    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        controls.stop()

    previous = {s: signal.getsignal(s) for s in signals}
    children = []
    try:
        children = _start_ranks(session)
        trainer = session.make_trainer(pause_on_divergence=lambda: hold_for_viewers and live.viewers > 0,
                                       start_paused=start_paused)
        trainer.children = children
        for s in signals:
            signal.signal(s, on_signal)
        controls.attach(trainer)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)  # a stop that came meanwhile is handled now
        threading.Thread(target=_let_go_when_nobody_watches, args=(live, trainer, hold_for_viewers),
                         daemon=True).start()
        status = session.run_trainer()
        if live.viewers and not trainer.stop_requested:
            print(f"training ended ({status.logged}); the final model answers r, s and v while a viewer is attached",
                  file=out or sys.stdout, flush=True)
            trainer.serve_final_model()
    finally:
        _end_ranks(children)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for s, handler in previous.items():
            signal.signal(s, handler)
        session.close()  # the channel, the sinks, the log, then the lock (unless the caller's)
    if status is RunStatus.ERROR:
        print(f"mnist-tui: {why_it_failed(session)}", file=err)
    return exit_codes.of_returned(status)


def why_it_failed(session: Session) -> str:
    """The one line a failed run ends with on the terminal."""
    error = getattr(session.trainer, "error", None)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full ({error.strerror}): the run ended as error; free some space, then "
                f"mnist-tui --resume {session.run.path} goes on from its last checkpoint")
    return f"training failed, traceback in {session.run.log_path}"


def _start_ranks(session: Session) -> list:
    """`--nproc` above 1 on this machine: this process becomes rank 0 and starts the others
    (engine/ranks.py). Not when paddle.distributed.launch made it a rank already."""
    from mnist_tui.engine import ranks
    from mnist_tui.engine.device import choose_device

    if ranks.environment()[1] > 1:
        return []
    cfg = session.cfg
    device, _ = choose_device(cfg.device, cfg.amp)
    world = cfg.nproc or min(ranks.auto_nproc(device), cfg.batch_size)  # each rank needs a row of the batch
    if world < 2:
        return []
    gpus = None
    if device != "cpu":
        gpus = [int(g) for g in cfg.gpus.split(",")] if cfg.gpus else list(range(world))
        world = min(world, len(gpus))
    return ranks.start_local_ranks(world, session.run.path, gpus)


def _end_ranks(children: list, wait_s: float = 30.0) -> None:
    """The other ranks end when rank 0 says so (or when it is gone); any left after `wait_s` are killed."""
    if not children:
        return
    from mnist_tui.engine.ranks import leave_ranks

    leave_ranks()
    deadline = time.monotonic() + wait_s
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: it hangs, end it
            child.kill()
            child.wait()


def _let_go_when_nobody_watches(live: LiveRun, trainer, hold_diverged: bool) -> None:
    """A trainer waits for its viewers in two places: serving the final model after the run, and
    (`hold_diverged`) holding a diverged network paused. The last viewer leaving ends either."""
    def waiting() -> bool:
        return trainer.status.ended or (hold_diverged and trainer.diverged and trainer.paused)

    if live.hold_while_watched(until=lambda: trainer.stop_requested, holding=waiting, every=0.2):
        trainer.stop()
