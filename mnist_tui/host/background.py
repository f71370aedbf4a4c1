"""A trainer detached from the terminal: the app starts one for its run, then watches the folder.

It runs in its own session (`start_new_session`), so a hang-up (the SSH connection dropping, the
terminal closing) does not reach it: training goes on to its end, writing the run folder, and
`mnist-tui watch` opens it again. The launcher takes the run's trainer lock and hands it down, so
there is no moment at which a viewer could find the run without a trainer and call it crashed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

from mnist_tui import exit_codes
from mnist_tui.run.control import hold_trainer_lock
from mnist_tui.run.folder import LOG, RunDir, open_for_writing

TRAINER_NICENESS = 5


def start(run_path: str | Path, resume: bool = False, paused: bool = False) -> subprocess.Popen:
    """Start training `run_path` (made by Session.new, or an existing run to resume) in the background."""
    run_path = Path(run_path)
    lock = hold_trainer_lock(run_path)
    command = [sys.executable, "-m", "mnist_tui.host.background", str(run_path), "--lock-fd", str(lock.fileno())]
    command += ["--resume"] * resume + ["--paused"] * paused
    # The child is born with stop signals blocked (a mask survives exec) and unblocks them once its
    # handler is in place: a stop at any moment of its start-up ends the run as stopped, not crashed.
    stops = [signal.SIGINT, signal.SIGTERM]
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        with os.fdopen(open_for_writing(run_path / LOG), "ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True, pass_fds=(lock.fileno(),))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    lock.close()  # the child's copy of the descriptor holds the lock now
    return process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_tui.host.background")
    parser.add_argument("run_dir")
    parser.add_argument("--lock-fd", type=int, required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--paused", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # in its own session already; a stray hang-up changes nothing
    # Training takes every core; a little lower priority lets a viewer on this machine answer a
    # key at once, and training still gets everything else.
    os.nice(TRAINER_NICENESS)
    lock = os.fdopen(args.lock_fd, "a")
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")  # the trainer's pid, not the launcher's
    lock.flush()
    from mnist_tui.engine.session import Session
    from mnist_tui.errors import UsageError
    from mnist_tui.host.headless import run_headless

    run = RunDir(Path(args.run_dir))
    try:
        session = Session.resume(run.path) if args.resume else Session.open(run.path)
        return run_headless(session, lock=lock, start_paused=args.paused, hold_for_viewers=True)
    except UsageError as exc:
        _report(run, f"{exc}", "")
        return exit_codes.USAGE
    except Exception as exc:  # noqa: BLE001 - written where the viewer reads it
        _report(run, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return exit_codes.FAILED
    finally:
        lock.close()  # after any report: a viewer never sees the run without a trainer and without an end


def _report(run: RunDir, message: str, trace: str) -> None:
    """A failure before training began, told in the event log, since no terminal is there to see it."""
    from mnist_tui.run.events import ErrorRaised, Finished
    from mnist_tui.run.folder import EventLog
    from mnist_tui.run.status import RunStatus

    print(f"mnist-tui: {message}\n{trace}", file=sys.stderr)
    log = EventLog(run.events_path)
    log(ErrorRaised(message, trace, str(run.log_path)))
    log(Finished(RunStatus.ERROR.logged))
    log.close()


if __name__ == "__main__":
    sys.exit(main())
