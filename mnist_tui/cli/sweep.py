"""`mnist-tui sweep`: the course's experiments, every combination of comma-separated settings.

`--optimizer sgd,momentum,adagrad,adam --lr 0.01,0.003` makes 8 runs, each its own run folder
under one sweep folder, trained one after another (or `--parallel N` at a time) by the sweep
driver (host/sweep.py). Every combination is checked before the folder is made. The app opens the
compare view on the sweep folder and can be closed while the sweep goes on (`mnist-tui watch
SWEEP_DIR` opens it again); `--headless` drives it in the foreground and ends with a table.
"""

from __future__ import annotations

import argparse
import itertools
import sys

from mnist_tui.cli.options import TRAINING, check_before_the_run_folder, config_from_args
from mnist_tui.cli.usage import fail, require_terminal
from mnist_tui.errors import UsageError
from mnist_tui.host.sweep import PlannedRun, create, drive, start


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnist-tui sweep",
                                description="Run every combination of comma-separated training settings.")
    for option in TRAINING:
        option.add_alternatives_to(p)
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="train N runs at a time (default 1)")
    p.add_argument("--headless", action="store_true", help="no UI: print progress and a final table")
    p.add_argument("--data-dir")
    p.add_argument("--runs-dir", default="runs", help="the sweep folder goes here (default ./runs)")
    return p


def expand(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(run name, the argv of one run) for each combination, in order."""
    axes = []
    for option in TRAINING:
        value = getattr(args, option.name, None)
        if value is None:
            continue
        if option.switch:
            axes.append([(option.flag, None)])
        else:
            axes.append([(option.flag, v.strip()) for v in value.split(option.alternatives) if v.strip()])
    runs = []
    for combo in itertools.product(*axes):
        argv, name = [], []
        for flag, value in combo:
            argv += [flag] if value is None else [flag, value]
            if value is not None and len(next(a for a in axes if (flag, value) in a)) > 1:
                name.append(f"{flag.lstrip('-')}={value}")
        runs.append(("_".join(name).replace("/", "-") or "run", argv))
    return runs


def plan(argv: list[str]) -> tuple[argparse.Namespace, list[PlannedRun]]:
    """The sweep's runs, each checked as `mnist-tui` checks one before anything is made."""
    from mnist_tui.cli.train import build_parser as one_run_parser

    args = build_parser().parse_args(argv)
    if args.parallel < 1:
        raise UsageError(f"--parallel: must be >= 1, got {args.parallel}")
    parser = one_run_parser()
    runs = []
    for name, run_argv in expand(args):
        try:
            cfg = config_from_args(parser.parse_args(run_argv))
        except SystemExit:
            raise UsageError(f"run {name}: bad settings {' '.join(run_argv)}") from None
        check_before_the_run_folder(cfg, None)
        runs.append(PlannedRun(name, run_argv, cfg))
    return args, runs


def main(argv: list[str]) -> int:
    try:
        args, runs = plan(argv)
        if not args.headless:
            require_terminal()  # before the sweep folder is made
        folder = create(args.runs_dir, argv, runs, args.parallel, args.data_dir)
    except UsageError as exc:
        return fail(str(exc))
    if args.headless:
        return drive(folder, out=sys.stdout)
    start(folder)
    from mnist_tui.tui.app import MnistApp, run_app

    print(f"mnist-tui: sweep of {len(runs)} runs in {folder}")
    return run_app(MnistApp(folder, show_runs=True, compare=[folder]))
