"""A rank other than 0: `python -m mnist_tui.host.rank_main RUN_DIR RANK0_PID READY_FD`, started by
rank 0 on this machine (engine/ranks.py, start_local_ranks), or `follow_settings` in a process that
paddle.distributed.launch made a rank (cli/main.py). It trains its share of each batch; its events
go nowhere and its decisions come from rank 0.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

from mnist_tui import exit_codes
from mnist_tui.run.status import RunStatus

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """A rank started by rank 0 (`parent`) ends when that process does, however it ends: the
    kernel sends SIGKILL (a rank may block SIGTERM) when the thread that started it exits, and
    rank 0 starts its ranks from the thread that waits for them. A parent gone before this call
    is seen in our parent pid. Then the signals rank 0 blocked while it started are unblocked."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is not None:  # Linux
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(exit_codes.FAILED)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def follow(run_path: Path, ready_fd: int | None = None) -> int:
    """A rank other than 0 on this machine: train the run's settings on its share of each batch."""
    from mnist_tui.engine.data import load_mnist
    from mnist_tui.engine.session import saved_config
    from mnist_tui.run.folder import RunDir

    run = RunDir(run_path)
    saved = run.read_config()
    return follow_settings(saved_config(run, saved), load_mnist(saved.get("data_dir")), ready_fd)


def follow_settings(cfg, data, ready_fd: int | None = None) -> int:
    """A rank other than 0: its events go nowhere, its decisions come from rank 0. `ready_fd`: the
    pipe on which a rank started by rank 0 says it is about to join the rendezvous."""
    from mnist_tui.engine.loop import Trainer

    # A terminal's Ctrl+C or hang-up reaches the whole process group: rank 0 decides, the others follow.
    for s in (signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    trainer = Trainer(cfg, data, None)
    if ready_fd is not None:
        def ready() -> None:
            os.write(ready_fd, b"r")
            os.close(ready_fd)

        trainer.before_rendezvous = ready
    return exit_codes.OK if trainer.run() is RunStatus.FINISHED else exit_codes.FAILED


if __name__ == "__main__":
    die_with_parent(int(sys.argv[2]))
    sys.exit(follow(Path(sys.argv[1]), int(sys.argv[3])))
