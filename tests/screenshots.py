"""The README's pictures: each view of the app as an SVG, drawn from a scripted run (no Paddle, no
training), so `make screenshots` redraws them the same way whenever the screens change.

    python tests/screenshots.py docs/img      # what `make screenshots` runs
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from unittest import mock

from helpers import drawn, wait_for
from scripted import ScriptedTrainer, fixed_events
from textual.screen import Screen

from mnist_tui.run import events as ev
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import RunsScreen
from mnist_tui.tui.screens.snapshot_screen import SnapshotScreen

SIZE = (80, 24)
START = 1_795_000_000.0  # a fixed clock for the events' times, so the runs table reads the same every time


class FixedClock:
    """Stands in for the `time` module where events stamp their time: one second per event."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        self.now += 1.0
        return self.now


def finished_run(root: Path, name: str, optimizer: str, lr: float, accs: list[float]) -> None:
    """A run of a sweep that ended: one evaluation an epoch."""
    root.mkdir(exist_ok=True)
    config = {"optimizer": optimizer, "lr": lr, "schedule": "cosine", "weight_decay": 0.0,
              "epochs": len(accs), "batch_size": 64}
    events: list[ev.Event] = [ev.RunStarted(str(root / name), "CPU", config, len(accs), 100, 6400, 1000, []),
                              ev.StatusChanged("running")]
    for epoch, acc in enumerate(accs):
        step = 100 * epoch + 99
        events += [ev.BatchMetrics(epoch, 99, step, 1 - acc, acc, 600.0, step / 10),
                   ev.EvalResult("val", epoch, 99, step, 1 - acc, acc, 1 - acc, acc, 1 - acc, acc, 1000, 6400,
                                 "fine", "Fine.")]
    trainer = ScriptedTrainer(root, events, name=name, config=config, serve=False)
    trainer.finish("done")
    trainer.exit()


async def shoot(app: MnistApp, out: Path, name: str, keys: tuple[str, ...], shown: type[Screen]) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await drawn(pilot)
        await pilot.press(*keys)
        await wait_for(pilot, lambda: isinstance(app.screen, shown), f"the {shown.__name__}")
        await drawn(pilot)
        app.save_screenshot(f"{name}.svg", str(out))


async def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    views = [("training", ("1",), RunScreen), ("layers", ("2",), RunScreen), ("validation", ("3",), RunScreen),
             ("runs", ("4",), RunsScreen), ("snapshot", ("2", "o", "enter"), SnapshotScreen)]
    out, cwd = out.resolve(), os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(ev, "time", FixedClock()):
        os.chdir(tmp)  # the runs table names its folder: "runs", not a temporary path
        root = Path("runs")
        root.mkdir()
        finished_run(root / "sweep-demo", "optimizer=sgd", "sgd", 0.01, [0.912, 0.944, 0.958])
        finished_run(root / "sweep-demo", "optimizer=adam", "adam", 0.003, [0.962, 0.975, 0.981])
        trainer = ScriptedTrainer(root, fixed_events(), name="20261201-080000",
                                  config={"optimizer": "adam", "lr": 0.003, "schedule": "cosine", "epochs": 2})
        try:
            for name, keys, shown in views:
                await shoot(MnistApp(root, RunController(trainer.path)), out, name, keys, shown)
        finally:
            trainer.exit()
            os.chdir(cwd)
    return [out / f"{name}.svg" for name, *_ in views]


if __name__ == "__main__":
    for path in asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))):
        print(path)
