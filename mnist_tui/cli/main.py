"""`mnist-tui`: parse the command line, check everything cheap up front, then run the app or headless.

Errors a user can fix get one line and exit status 2; Paddle's own stderr chatter (Python and C++)
goes to the run's log file so it never corrupts the terminal.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

from mnist_tui import __version__
from mnist_tui.engine.data import TRAIN_SPLIT, DataError
from mnist_tui.errors import UsageError
from mnist_tui.run.config import OPTIMIZERS, PRESETS, ConfigError, TrainConfig, parse_l2, validate
from mnist_tui.run.folder import open_for_writing

EXIT_USAGE = 2
SUBCOMMANDS = ("watch", "runs", "sweep", "export")
COMMANDS_HELP = """commands (each has its own --help):
  mnist-tui watch [RUN_DIR]  open a run, live or finished, from any shell (default: the newest)
  mnist-tui runs             the runs under --runs-dir: sort, open, mark, compare
  mnist-tui sweep OPTIONS    train each combination of comma-listed settings (--lr 0.01,0.003)
  mnist-tui export RUN_DIR   write a run's log for TensorBoard or VisualDL"""
PADDLE_HINT = ("Paddle is not installed: pip install paddlepaddle (CPU) "
               "or paddlepaddle-gpu (NVIDIA GPU), or run `make run`")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="mnist-tui", description="Train the course's Paddle CNN on MNIST and debug it live.")
    p.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    mode = p.add_argument_group("mode")
    mode.add_argument("--headless", action="store_true", help="no UI: print the course's log lines")
    mode.add_argument("--check-shape", action="store_true", help="headless: print layer hyper-parameters and shapes first")
    mode.add_argument("--paused", action="store_true", help="app: start paused")
    mode.add_argument("--resume", metavar="RUN_DIR",
                      help="continue a run from its newest checkpoint (none yet: start it again from its settings)")
    train = p.add_argument_group("training (defaults: Adam, lr 0.003 cosine-decayed, 5 epochs, batch 64, shift 2)")
    train.add_argument("--preset", choices=sorted(PRESETS), help="course: Adam, lr 0.01 constant, 5 epochs, batch 64, no augmentation")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)}")
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--momentum", type=float, help="for --optimizer momentum (default 0.9)")
    train.add_argument("--schedule", help="cosine (default) or constant learning rate")
    train.add_argument("--weight-decay", type=float, help="L2 weight decay for the whole model")
    train.add_argument("--l2", type=parse_l2_arg, help="per-layer L2, e.g. conv1=1e-4,fc=1e-3")
    train.add_argument("--seed", type=int)
    train.add_argument("--shift", type=int, metavar="PX", help="augment: move each batch by up to PX pixels")
    train.add_argument("--device", help="auto (default), cpu, gpu or gpu:N")
    train.add_argument("--eval-every", type=int, help="also validate every N batches (0: once per epoch)")
    train.add_argument("--stats-every", type=int, metavar="N",
                       help="layer statistics every N batches (default 100; 0: only at the first batch, "
                            "evaluations and on request)")
    train.add_argument("--train-limit", type=int, metavar="N", help="train on the first N images only")
    train.add_argument("--val-limit", type=int, metavar="N", help="validate on the first N images only")
    train.add_argument("--test-limit", type=int, metavar="N", help="test on the first N images only")
    train.add_argument("--train-eval-limit", type=int, metavar="N",
                       help="training images evaluated like validation for the gap (default 10,000)")
    train.add_argument("--checkpoint-every", type=float, metavar="MIN", dest="checkpoint_minutes",
                       help="also checkpoint after every MIN minutes of training (default 5; 0: only at epoch ends)")
    train.add_argument("--threads", type=int, help="CPU math threads (default: Paddle's, 1)")
    train.add_argument("--nproc", type=int, metavar="N",
                       help="data-parallel processes, paddle.DataParallel (default: one per CPU core, up to 4, "
                            "or one per GPU; also with --resume)")
    train.add_argument("--gpus", metavar="LIST", help="GPUs for the processes, e.g. 0,1 (default: every visible one)")
    train.add_argument("--to-static", action="store_true", default=None, help="compile the train step (paddle.jit.to_static)")
    train.add_argument("--amp", action="store_true", default=None,
                       help="GPU only: float16 automatic mixed precision with loss scaling")
    files = p.add_argument_group("files")
    files.add_argument("--data-dir", help="read the four MNIST IDX files (gzipped or not) from DIR instead of the bundled copy")
    files.add_argument("--runs-dir", default="runs", help="where run folders go (default ./runs)")
    files.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR as training goes")
    return p


def parse_l2_arg(text: str) -> dict[str, float]:
    try:
        return parse_l2(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--l2: ")) from None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base = dict(PRESETS[args.preset]) if args.preset else {}
    for name in TrainConfig.__dataclass_fields__:
        value = getattr(args, name, None)
        if value is not None:
            base[name] = value
    return validate(TrainConfig(**base))


def route_stderr(log_path: Path):
    """Point fd 2 (Python and C++ writers alike) at the run's log; return a file on the real terminal."""
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    log_fd = open_for_writing(log_path)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    return terminal


def check_before_the_run_folder(cfg: TrainConfig, data) -> None:
    """Checks that can fail run before a run folder is made, so a refusal leaves nothing behind."""
    train_size = len(data.train.head(cfg.train_limit)) if data is not None else min(cfg.train_limit or TRAIN_SPLIT,
                                                                                  TRAIN_SPLIT)
    validate(cfg, train_size=train_size)
    if cfg.device not in ("auto", "cpu") or cfg.amp:  # only these can be refused
        with warnings.catch_warnings():  # Paddle warns at import (no ccache); fd 2 is still the terminal
            warnings.simplefilter("ignore")
            from mnist_tui.engine.device import choose_device

        choose_device(cfg.device, cfg.amp)


def check_output_folder(flag: str, path: Path) -> None:
    """UsageError unless `path` is, or can be made as, a folder we can write (nothing is made here)."""
    for existing in (path, *path.parents):
        if existing.exists():
            if not existing.is_dir():
                raise UsageError(f"{flag} {path}: {existing} is a file, not a folder")
            if not os.access(existing, os.W_OK):
                raise UsageError(f"{flag} {path}: {existing} cannot be written")
            return


def require_terminal() -> None:
    """The app draws on a terminal and reads its keys from it; started without one (a script, nohup,
    stdin from /dev/null) Textual would spin on the empty input forever, so it is refused instead."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the app needs a terminal (stdin and stdout); --headless trains without one, "
                         "and mnist-tui watch opens the run later from a terminal")


def unknown_command(word: str) -> str:
    near = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.5)
    hint = f"did you mean `mnist-tui {near[0]}`?" if near else f"the commands are {', '.join(SUBCOMMANDS)}"
    return f"unknown command {word!r}: {hint} (see mnist-tui --help)"


def os_error_line(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def fail(message: str, out=None) -> int:
    print(f"mnist-tui: {message}", file=out or sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "export":
        from mnist_tui.cli.export import main as export

        return export(argv[1:])
    if argv and argv[0] in SUBCOMMANDS:
        from mnist_tui.cli import viewers

        return getattr(viewers, argv[0])(argv[1:])
    if argv and not argv[0].startswith("-"):  # no option takes a bare word first: a command, mistyped
        return fail(unknown_command(argv[0]))
    parser = build_parser()
    parser.usage = "mnist-tui [options]\n       mnist-tui {watch,runs,sweep,export} ..."
    parser.description += "\n\n" + COMMANDS_HELP  # the commands are not options: listed up front
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    args = parser.parse_args(argv)
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
            from mnist_tui.engine.ranks import follow_settings

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
        return 130
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


def entry() -> None:
    sys.exit(main())
