"""`mnist-tui [options]`, the default command: check everything cheap up front, then train
headless or in the app.

Errors a user can fix get one line and exit status 2; Paddle's own stderr chatter (Python and C++)
goes to the run's log file so it never corrupts the terminal.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from mnist_tui import exit_codes
from mnist_tui.cli.options import add_training_options, check_before_the_run_folder, config_from_args
from mnist_tui.cli.usage import OneLineParser, fail, os_error_line, require_terminal
from mnist_tui.engine.data import DataError
from mnist_tui.errors import UsageError
from mnist_tui.run.folder import open_for_writing
from mnist_tui.version import __version__

COMMANDS_HELP = """commands (each has its own --help):
  mnist-tui watch [RUN_DIR]  open a run, live or finished, from any shell (default: the newest)
  mnist-tui runs             the runs under --runs-dir: sort, open, mark, compare
  mnist-tui sweep OPTIONS    train each combination of comma-listed settings (--lr 0.01,0.003)
  mnist-tui export RUN_DIR   write a run's log for TensorBoard or VisualDL"""
PADDLE_HINT = ("Paddle is not installed: pip install paddlepaddle (CPU) "
               "or paddlepaddle-gpu (NVIDIA GPU), or run `make run`")


def build_parser() -> argparse.ArgumentParser:
    """The program's own: `mnist-tui --help` lists the commands up front (they are not options)."""
    p = OneLineParser(prog="mnist-tui", usage="mnist-tui [options]\n       mnist-tui {watch,runs,sweep,export} ...",
                      description="Train the course's Paddle CNN on MNIST and debug it live.\n\n" + COMMANDS_HELP,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    mode = p.add_argument_group("mode")
    mode.add_argument("--headless", action="store_true", help="no UI: print the course's log lines")
    mode.add_argument("--check-shape", action="store_true", help="headless: print layer hyper-parameters and shapes first")
    mode.add_argument("--paused", action="store_true", help="app: start paused")
    mode.add_argument("--resume", metavar="RUN_DIR",
                      help="continue a run from its newest checkpoint (none yet: start it again from its settings)")
    add_training_options(p)
    files = p.add_argument_group("files")
    files.add_argument("--data-dir", help="read the four MNIST IDX files (gzipped or not) from DIR instead of the bundled copy")
    files.add_argument("--runs-dir", default="runs", help="where run folders go (default ./runs)")
    files.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR as training goes")
    return p


def route_stderr(log_path: Path):
    """Point fd 2 (Python and C++ writers alike) at the run's log; return a file on the real terminal."""
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    log_fd = open_for_writing(log_path)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    return terminal


def check_output_folder(flag: str, path: Path) -> None:
    """UsageError unless `path` is, or can be made as, a folder we can write (nothing is made here)."""
    for existing in (path, *path.parents):
        if existing.exists():
            if not existing.is_dir():
                raise UsageError(f"{flag} {path}: {existing} is a file, not a folder")
            if not os.access(existing, os.W_OK):
                raise UsageError(f"{flag} {path}: {existing} cannot be written")
            return


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if importlib.util.find_spec("paddle") is None:
        return fail(PADDLE_HINT)
    from mnist_tui.engine.data import load_mnist
    from mnist_tui.engine.ranks import environment
    from mnist_tui.engine.session import Session
    from mnist_tui.run.control import ControlError, trainer_alive

    try:
        if args.data_dir and not Path(args.data_dir).is_dir():
            raise DataError(f"{args.data_dir}: data directory not found")
        cfg = None if args.resume else config_from_args(args)
        rank, _ = environment()
        if rank > 0:  # started by paddle.distributed.launch: rank 0 owns the run folder, this one follows
            if cfg is None:
                raise UsageError("--resume across machines: resume on one machine (the run folder is on rank 0's)")
            from mnist_tui.host.rank_main import follow_settings

            return follow_settings(cfg, load_mnist(args.data_dir))
        # Headless loads and checks the data before anything else; the app's trainer does it in
        # the background, so that the first frame does not wait.
        data = load_mnist(args.data_dir) if args.headless and not args.resume else None
        if cfg is not None:
            check_before_the_run_folder(cfg, data)
        if args.tensorboard and importlib.util.find_spec("tensorboardX") is None:
            raise UsageError("--tensorboard needs tensorboardX: pip install 'mnist-tui[export]'")
        if args.tensorboard:
            check_output_folder("--tensorboard", Path(args.tensorboard))
        if args.resume and trainer_alive(args.resume):
            raise UsageError(f"{args.resume}: its trainer is still running; mnist-tui watch {args.resume} shows it")
        if not args.headless:
            require_terminal()
        if args.resume:
            session = Session.resume(args.resume, rewrite=args.headless)  # the app's trainer resumes it itself
            for note in session.notes if args.headless else ():  # the app shows them from the log
                print(f"warning: {note}", flush=True)
            if args.nproc is not None:  # a run goes on with any number of processes
                session.change_settings(nproc=args.nproc)
        else:
            session = Session.new(cfg, args.runs_dir, args.data_dir, data=data,
                                  tensorboard=args.tensorboard and str(Path(args.tensorboard).resolve()))
        terminal = route_stderr(session.run.log_path)
    except (UsageError, ControlError) as exc:
        return fail(str(exc))
    except OSError as exc:  # a full disk or a folder that went away while the run was being prepared
        return fail(os_error_line(exc))
    try:
        if args.headless:
            from mnist_tui.host.headless import run_headless

            return run_headless(session, args.check_shape, err=terminal, start_paused=args.paused)
        return start_and_watch(session, bool(args.resume), args.paused, args.runs_dir, terminal)
    except (UsageError, ControlError) as exc:  # ControlError: another trainer took the run meanwhile
        session.close()
        return fail(str(exc), terminal)
    except OSError as exc:  # the disk filled before training began (writing the settings)
        session.close()
        return fail(os_error_line(exc), terminal)
    except KeyboardInterrupt:
        return exit_codes.STOPPED
    finally:
        sys.stderr.flush()
        os.dup2(terminal.fileno(), 2)  # the terminal gets fd 2 back (matters when main is called in-process)
        terminal.close()


def start_and_watch(session, resume: bool, paused: bool, runs_dir: str, terminal) -> int:
    """The app: train in a background process that outlives the terminal, and watch its folder."""
    from mnist_tui.host.background import start

    process = start(session.run.path, resume=resume, paused=paused)  # first: the lock is held from here on
    from mnist_tui.tui.app import MnistApp, run_app
    from mnist_tui.tui.controller import RunController

    controller = RunController(session.run.path, process)
    runs_root = session.run.path.parent if resume else runs_dir
    return run_app(MnistApp(runs_root, controller, owns_run=True), terminal)
