"""`mnist-tui sweep`: the course's experiments, every combination of comma-separated settings.

`--optimizer sgd,momentum,adagrad,adam --lr 0.01,0.003` makes 8 runs, each its own run folder
under one sweep folder, trained one after another (or `--parallel N` at a time) by background
trainers, exactly as `mnist-tui` trains one run. The sweep's driver is itself a background
process: the app opens the compare view on the sweep folder and can be closed while the sweep
goes on (`mnist-tui watch SWEEP_DIR` opens it again); `--headless` drives it in the foreground
and ends with a table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mnist_tui.cli.main import (
    EXIT_USAGE,
    build_parser,
    check_before_the_run_folder,
    config_from_args,
    require_terminal,
)
from mnist_tui.errors import UsageError
from mnist_tui.run.index import SWEEP
from mnist_tui.run.status import RunStatus

VALUE_ACTIONS = (argparse._StoreAction,)  # the training options that take a value (comma lists allowed)


def training_options() -> dict[str, argparse.Action]:
    """The main command's training options, by flag: the sweep takes the same ones."""
    parser = build_parser()
    group = next(g for g in parser._action_groups if g.title and g.title.startswith("training"))
    return {a.option_strings[0]: a for a in group._group_actions if a.option_strings}


def build_sweep_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnist-tui sweep",
                                description="Run every combination of comma-separated training settings.")
    for flag, action in training_options().items():
        if isinstance(action, VALUE_ACTIONS):
            p.add_argument(flag, dest=action.dest, metavar="V[,V...]", help=action.help)
        else:
            p.add_argument(flag, dest=action.dest, action="store_true", default=None, help=action.help)
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="train N runs at a time (default 1)")
    p.add_argument("--headless", action="store_true", help="no UI: print progress and a final table")
    p.add_argument("--data-dir")
    p.add_argument("--runs-dir", default="runs", help="the sweep folder goes here (default ./runs)")
    return p


def expand(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(run name, the argv of one run) for each combination, in order."""
    options = training_options()
    axes = []
    for flag, action in options.items():
        value = getattr(args, action.dest, None)
        if value is None:
            continue
        if isinstance(action, VALUE_ACTIONS):
            # --l2 takes commas itself (conv1=1e-4,fc=1e-3): its alternatives are separated by ';'.
            values = value.split(";") if action.dest == "l2" else value.split(",")
            axes.append([(flag, v.strip()) for v in values if v.strip()])
        else:
            axes.append([(flag, None)])
    runs = []
    for combo in itertools.product(*axes):
        argv, name = [], []
        for flag, value in combo:
            argv += [flag] if value is None else [flag, value]
            if value is not None and len(next(a for a in axes if (flag, value) in a)) > 1:
                name.append(f"{flag.lstrip('-')}={value}")
        runs.append(("_".join(name).replace("/", "-") or "run", argv))
    return runs


def plan(argv: list[str]) -> tuple[argparse.Namespace, list[tuple[str, list[str]]]]:
    args = build_sweep_parser().parse_args(argv)
    if args.parallel < 1:
        raise UsageError(f"--parallel: must be >= 1, got {args.parallel}")
    runs = expand(args)
    parser = build_parser()
    for name, run_argv in runs:  # every combination checked before anything is made, as mnist-tui does
        try:
            cfg = config_from_args(parser.parse_args(run_argv))
        except SystemExit:
            raise UsageError(f"run {name}: bad settings {' '.join(run_argv)}") from None
        check_before_the_run_folder(cfg, None)
    return args, runs


def main(argv: list[str]) -> int:
    try:
        args, runs = plan(argv)
        if not args.headless:
            require_terminal()  # before the sweep folder is made
        from mnist_tui.run.folder import RunDir

        folder = RunDir.create(args.runs_dir, "sweep-" + time.strftime("%Y%m%d-%H%M%S")).path
    except UsageError as exc:
        print(f"mnist-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for sub in ("checkpoints", "snapshots"):  # RunDir.create makes them; a sweep folder holds runs only
        (folder / sub).rmdir()
    (folder / SWEEP).write_text(json.dumps({"argv": argv, "runs": [{"name": n, "argv": a} for n, a in runs],
                                            "parallel": args.parallel, "data_dir": args.data_dir}, indent=2))
    if args.headless:
        return drive(folder, out=sys.stdout)
    with open(folder / "sweep.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "mnist_tui.host.sweep", str(folder)], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True)
    from mnist_tui.tui.app import MnistApp, run_app

    print(f"mnist-tui: sweep of {len(runs)} runs in {folder}")
    return run_app(MnistApp(folder, show_runs=True, compare=[folder]))


def drive(folder: Path, out=None) -> int:
    """Train the sweep's runs, `parallel` at a time, each by a background trainer; print a table."""
    from mnist_tui.engine.session import Session
    from mnist_tui.host.background import start
    from mnist_tui.run.index import summarise

    plan_ = json.loads((folder / SWEEP).read_text())
    parser = build_parser()
    waiting = list(plan_["runs"])
    running: list[tuple[subprocess.Popen, Path]] = []
    stopping, signalled = [], set()

    def on_signal(signum, _frame):
        stopping.append(signum)

    def still_training(process: subprocess.Popen, run: Path) -> bool:
        """Its trainer lives and the run has not ended (a finished run whose trainer waits for a
        viewer frees its place in the sweep)."""
        if process.poll() is not None:
            return False
        summary = summarise(run)
        return summary is None or not summary.status.ended

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, on_signal)
    while (waiting and not stopping) or running:
        running = [(p, run) for p, run in running if still_training(p, run)]
        if stopping:
            for process, _ in running:
                if process.pid not in signalled:  # each trainer stops after its batch, with a checkpoint
                    process.send_signal(signal.SIGTERM)
                    signalled.add(process.pid)
        while waiting and not stopping and len(running) < plan_["parallel"]:
            spec = waiting.pop(0)
            cfg = config_from_args(parser.parse_args(spec["argv"]))
            session = Session.new(cfg, folder, plan_.get("data_dir"), name=spec["name"])
            running.append((start(session.run.path), session.run.path))
            print(f"sweep: started {spec['name']}", file=out, flush=True)
        time.sleep(0.5)
    if out is not None:
        print(table(folder), file=out, flush=True)
    return sweep_status(folder, bool(stopping))


def sweep_status(folder: Path, interrupted: bool) -> int:
    """The exit status (docs/usage.md): 130 interrupted or a run stopped, else 1 if a run failed
    or crashed, else 3 if one diverged, else 0."""
    from mnist_tui.run.index import list_runs

    statuses = {run.status for run in list_runs(folder)}
    if interrupted or RunStatus.STOPPED in statuses:
        return 130
    if statuses & {RunStatus.ERROR, RunStatus.CRASHED}:
        return 1
    return 3 if RunStatus.DIVERGED in statuses else 0


def table(folder: Path) -> str:
    from mnist_tui.run.index import list_runs

    rows = [("run", "status", "epochs", "best val", "test", "wall")]
    for run in sorted(list_runs(folder), key=lambda r: r.name):
        rows.append((run.name, run.status.value, f"{run.epochs_done}/{run.epochs_total}",
                     f"{100 * run.best_val_acc:.2f}%" if run.best_val_acc is not None else "-",
                     f"{100 * run.test_acc:.2f}%" if run.test_acc is not None else "-",
                     f"{run.wall_s:.0f} s" if run.wall_s is not None else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


if __name__ == "__main__":
    sys.exit(drive(Path(sys.argv[1]), out=sys.stdout))
