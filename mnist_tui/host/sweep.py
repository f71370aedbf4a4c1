"""The sweep driver: train a sweep folder's planned runs, `parallel` at a time, each by a
background trainer exactly as `mnist-tui` trains one run.

`mnist-tui sweep` (cli/sweep.py) plans the runs and makes the folder with `create`; the driver is
then itself a background process (`start`), so the app that shows the sweep can be closed while it
goes on, or `--headless` calls `drive` in the foreground, which ends with a table.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from mnist_tui import exit_codes
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.index import SWEEP


class PlannedRun(NamedTuple):
    name: str  # its folder's, from the settings that differ between runs
    argv: list[str]  # its settings as options, for people reading the plan
    config: TrainConfig  # the same, checked: what the driver trains


def create(runs_dir: str | Path, argv: list[str], runs: list[PlannedRun], parallel: int, data_dir: str | None) -> Path:
    """Make the sweep folder under `runs_dir` and write its plan (SWEEP), which the driver follows."""
    from mnist_tui.run.folder import RunDir

    folder = RunDir.create(runs_dir, "sweep-" + time.strftime("%Y%m%d-%H%M%S")).path
    for sub in ("checkpoints", "snapshots"):  # RunDir.create makes them; a sweep folder holds runs only
        (folder / sub).rmdir()
    planned = [{"name": run.name, "argv": run.argv, "config": run.config.to_dict()} for run in runs]
    (folder / SWEEP).write_text(json.dumps({"argv": argv, "runs": planned, "parallel": parallel, "data_dir": data_dir},
                                           indent=2))
    return folder


def start(folder: Path) -> subprocess.Popen:
    """Drive the sweep in a background process that outlives the terminal; its output goes to sweep.log."""
    with open(folder / "sweep.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "mnist_tui.host.sweep", str(folder)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True)


def drive(folder: Path, out=None) -> int:
    """Train the sweep's runs, `parallel` at a time, each by a background trainer; print a table."""
    from mnist_tui.engine.session import Session
    from mnist_tui.host.background import start
    from mnist_tui.run.index import summarise

    plan_ = json.loads((folder / SWEEP).read_text())
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
            cfg = TrainConfig.from_dict(spec["config"])
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

    return exit_codes.of_sweep((run.status for run in list_runs(folder)), interrupted)


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
