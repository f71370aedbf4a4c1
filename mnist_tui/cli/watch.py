"""`mnist-tui watch [RUN_DIR]`: open a run folder, live or finished, or a sweep folder.

A viewer never trains and never imports Paddle: it reads a folder (live or finished) and steers
its trainer, if one lives, through the folder's control channel.
"""

from __future__ import annotations

from pathlib import Path

from mnist_tui.cli.usage import OneLineParser, fail, require_terminal
from mnist_tui.errors import UsageError
from mnist_tui.run.folder import CONFIG, check_event_log, read_regular


def newest_run(runs_dir: Path) -> Path:
    from mnist_tui.run.index import list_runs

    runs = list_runs(runs_dir)
    if not runs:
        raise UsageError(f"{runs_dir}: no runs there (start one with mnist-tui, or name a run folder)")
    return runs[0].path


def main(argv: list[str]) -> int:
    p = OneLineParser(prog="mnist-tui watch", description="Open a run folder, live or finished, from any shell.")
    p.add_argument("run_dir", nargs="?", help="a run folder, or a sweep folder (default: the newest run)")
    p.add_argument("--runs-dir", default="runs", help="where runs are looked for (default ./runs)")
    args = p.parse_args(argv)
    from mnist_tui.run.index import is_run
    from mnist_tui.tui.app import MnistApp, run_app
    from mnist_tui.tui.controller import RunController

    try:
        path = Path(args.run_dir) if args.run_dir else newest_run(Path(args.runs_dir))
        if not path.is_dir():
            raise UsageError(f"{path}: no such folder")
        sweep = not is_run(path)
        if sweep and not any(sub.is_dir() and is_run(sub) for sub in path.iterdir()):
            raise UsageError(f"{path}: not a run folder (no {CONFIG}) nor a sweep folder")
        if not sweep:  # a damaged folder is said here in one line, not found out by the views
            read_regular(path / CONFIG)
            check_event_log(path)
        require_terminal()
    except UsageError as exc:
        return fail(str(exc))
    except OSError as exc:  # an unreadable folder
        return fail(f"{exc.filename or path}: {exc.strerror or exc}")
    if sweep:
        return run_app(MnistApp(path, show_runs=True, compare=[path]))
    return run_app(MnistApp(path.parent, RunController(path)))
