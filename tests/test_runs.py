"""The runs table, the compare view and sweeps: run folders summarised, sorted, opened, compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import wait_for
from scripted import ScriptedTrainer, fixed_events, screen_text
from textual.widgets import DataTable, Static

from mnist_tui.cli.sweep import plan
from mnist_tui.run import events as ev
from mnist_tui.run.folder import read_events
from mnist_tui.run.index import differing_settings, list_runs, sort_runs, summarise, validation_curve
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.screens.compare_screen import CompareScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import RunsScreen


@pytest.fixture
def anyio_backend():
    return "asyncio"


def finished_run(root, name, acc, optimizer="adam", exit_=True):
    config = {"optimizer": optimizer, "lr": 0.003, "schedule": "cosine", "epochs": 2, "weight_decay": 0.0, "l2": {}}
    events = fixed_events()[:-1] + [ev.EvalResult("val", 1, 99, 199, 0.1, acc), ev.EvalResult("test", 2, 0, 200, 0.1, acc - 0.01),
                                    ev.Finished("done", acc - 0.01, 0.1)]
    trainer = ScriptedTrainer(root, events, name=name, config=config)
    if exit_:
        trainer.exit()
    return trainer


def test_runs_are_summarised_with_their_status_and_figures(tmp_path):
    finished_run(tmp_path, "a-sgd", 0.97, optimizer="sgd")
    finished_run(tmp_path, "b-adam", 0.99)
    live = ScriptedTrainer(tmp_path, fixed_events(), name="c-live")  # paused, trainer alive
    crashed = ScriptedTrainer(tmp_path, fixed_events()[:40], name="d-crashed")
    crashed.exit()
    with open(crashed.run.events_path, "a") as f:
        f.write('{"type": "BatchMetr')  # torn by the kill
    sweep = tmp_path / "sweep-1"
    finished_run(sweep, "lr=0.01", 0.95)
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert set(runs) == {"a-sgd", "b-adam", "c-live", "d-crashed", "sweep-1/lr=0.01"}
    assert runs["a-sgd"].status is RunStatus.FINISHED and runs["a-sgd"].best_val_acc == 0.97
    assert runs["a-sgd"].test_acc == pytest.approx(0.96) and runs["a-sgd"].optimizer == "sgd"
    assert runs["c-live"].status is RunStatus.PAUSED
    assert runs["d-crashed"].status is RunStatus.CRASHED
    assert runs["b-adam"].epochs_done == 1.5 and runs["b-adam"].epochs_total == 2  # 150 of 100 x 2 batches
    times = [e["time"] for e in read_events(tmp_path / "b-adam" / "events.jsonl")]
    assert runs["b-adam"].wall_s == pytest.approx(times[-1] - times[0])  # first event to Finished, the last
    by_val = [r.name for r in sort_runs(list(runs.values()), "best val", reverse=True)]
    assert by_val[:3] == ["b-adam", "a-sgd", "sweep-1/lr=0.01"]
    assert [s for _, s, _ in [(0, a, 0) for _, a, _ in validation_curve(tmp_path / "a-sgd")]] == [0.93, 0.95, 0.97]
    assert differing_settings([runs["a-sgd"], runs["b-adam"]]) == ["optimizer"]
    assert summarise(tmp_path / "sweep-1") is None  # a sweep folder is not a run
    live.exit()


@pytest.mark.anyio
async def test_runs_table_sorts_opens_marks_and_compares(tmp_path):
    finished_run(tmp_path, "a-sgd", 0.97, optimizer="sgd")
    finished_run(tmp_path, "b-adam", 0.99)
    app = MnistApp(tmp_path, show_runs=True)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: app.screen.loaded, "the folder read")  # read in a thread
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        screen = app.screen
        while screen.sort_column != "best val":
            await pilot.press("s")
        assert [r.name for r in screen.runs] == ["b-adam", "a-sgd"]  # highest first, as "started" was
        await pilot.press("d")
        assert [r.name for r in screen.runs] == ["a-sgd", "b-adam"]
        await pilot.press("d")
        assert [str(cell) for cell in table.get_row_at(0)[1:4]] == ["b-adam", "finished", "99.00"]  # best val next to the name
        await pilot.press("space", "space", "c")
        assert isinstance(app.screen, CompareScreen)
        await wait_for(pilot, lambda: app.screen.loaded, "the runs read")
        text = str(app.screen.query_one("#compare-table", Static).render())
        assert "b-adam" in text and "a-sgd" in text and "They differ in: optimizer" in text
        assert "99.00%" in text and "97.00%" in text
        await pilot.press("escape", "enter")  # back, and open the highlighted run
        assert isinstance(app.screen, RunScreen) and app.screen.controller.name == "a-sgd"
        await pilot.press("4")
        assert isinstance(app.screen, RunsScreen)


def test_sweep_checks_every_combination_first():
    _, runs = plan(["--optimizer", "sgd,adam", "--lr", "0.01,0.003", "--l2", "fc=1e-3;conv1=1e-4,fc=1e-3"])
    assert len(runs) == 8
    assert runs[0][:2] == ("optimizer=sgd_lr=0.01_l2=fc=1e-3",
                           ["--optimizer", "sgd", "--lr", "0.01", "--l2", "fc=1e-3"])
    assert (runs[0].config.optimizer, runs[0].config.lr, runs[0].config.l2) == ("sgd", 0.01, {"fc": 1e-3})
    from mnist_tui.errors import UsageError

    with pytest.raises(UsageError, match="--optimizer"):
        plan(["--optimizer", "sgd,rmsprop"])


def test_one_table_of_training_options_serves_training_and_sweeps():
    from mnist_tui.cli.options import TRAINING
    from mnist_tui.cli.sweep import build_parser as sweep_parser
    from mnist_tui.cli.train import build_parser as train_parser
    from mnist_tui.run.config import TrainConfig

    assert {o.name for o in TRAINING} - set(TrainConfig.__dataclass_fields__) == {"preset"}  # each reaches the config
    train_flags = {f for a in train_parser()._actions for f in a.option_strings}
    sweep_flags = {f for a in sweep_parser()._actions for f in a.option_strings}
    assert {o.flag for o in TRAINING} <= train_flags & sweep_flags
    _, runs = plan(["--checkpoint-every", "0.5,2"])  # a flag whose setting has another name
    assert [run.config.checkpoint_minutes for run in runs] == [0.5, 2.0]


def test_headless_sweep_ends_with_a_table_of_both_runs(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "mnist_tui", "sweep", "--optimizer", "sgd,adam", "--epochs", "1",
                             "--train-limit", "128", "--val-limit", "64", "--test-limit", "64", "--nproc", "1",
                             "--headless", "--runs-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()[-3:]
    assert table[0].split()[:4] == ["run", "status", "epochs", "best"]
    assert [line.split()[:2] for line in table[1:]] == [["optimizer=adam", "finished"], ["optimizer=sgd", "finished"]]
    sweep = next(tmp_path.iterdir())
    assert json.loads((sweep / "sweep.json").read_text())["runs"][0]["argv"] == ["--epochs", "1", "--optimizer", "sgd",
                                                                                  "--train-limit", "128", "--val-limit",
                                                                                  "64", "--test-limit", "64",
                                                                                  "--nproc", "1"]


@pytest.mark.parametrize("ends, interrupted, status", [
    (["done", "done"], False, 0),
    (["done", "diverged"], False, 3),
    (["diverged", "error"], False, 1),
    (["done", None], False, 1),  # a trainer gone without finishing: crashed
    (["done", "stopped"], False, 130),  # a run stopped from a viewer
    (["done", "done"], True, 130),  # the sweep itself interrupted
])
def test_a_sweeps_exit_status_follows_its_runs(tmp_path, ends, interrupted, status):
    from mnist_tui.host.sweep import sweep_status

    for i, end in enumerate(ends):
        trainer = ScriptedTrainer(tmp_path, fixed_events(), name=f"run-{i}")
        if end is not None:
            trainer.finish(end)
        trainer.exit()
    assert sweep_status(tmp_path, interrupted) == status


@pytest.mark.anyio
async def test_runs_table_scrolls_a_whole_column_at_a_time(tmp_path):
    finished_run(tmp_path, "optimizer=momentum,lr=0.003,weight_decay=0.0001,seed=3", 0.97)
    app = MnistApp(tmp_path, show_runs=True)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: app.screen.loaded, "the folder read")
        await wait_for(pilot, lambda: table.max_scroll_x > 0, "the table wider than 80 columns")
        edges = [0]
        for column in table.ordered_columns:
            edges.append(edges[-1] + column.get_render_width(table))
        seen = [table.scroll_x]
        while table.scroll_x < table.max_scroll_x:
            await pilot.press("right")
            await wait_for(pilot, lambda: table.scroll_x != seen[-1], "right scrolls", now=lambda: seen)
            seen.append(table.scroll_x)
        assert all(x in edges for x in seen[:-1]) and seen == sorted(set(seen)), seen  # column starts, one by one
        await pilot.press("left")
        await wait_for(pilot, lambda: table.scroll_x < seen[-1], "left scrolls back")
        assert table.scroll_x in edges
        assert "←→ Columns" in str(app.screen.query_one("KeyBar").render())
        assert "Esc Run view" not in str(app.screen.query_one("KeyBar").render()), "no run to go back to"


@pytest.mark.anyio
async def test_compare_table_scrolls_a_whole_column_at_a_time(tmp_path):
    finished_run(tmp_path, "optimizer=momentum,lr=0.003,weight_decay=0.0001,seed=3", 0.97, optimizer="momentum")
    finished_run(tmp_path, "optimizer=adam,lr=0.003,weight_decay=0.001,seed=3", 0.98)
    app = MnistApp(tmp_path, compare=[tmp_path])  # the folder's runs, as a sweep's
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, CompareScreen)
        await wait_for(pilot, lambda: app.screen.loaded, "the runs read")
        box = app.screen.query_one("#compare-table-box")
        await wait_for(pilot, lambda: box.max_scroll_x > 0, "the table wider than 80 columns")
        header = str(app.screen.query_one("#compare-table", Static).render()).splitlines()[0]
        assert box.max_scroll_x > 0 and header.rstrip().endswith("optimizer"), "the differing setting is off screen"
        starts = [i for i in range(2, len(header)) if header[i] != " " and header[i - 2:i] == "  "]
        await pilot.press("right")
        await wait_for(pilot, lambda: box.scroll_x > 0, "right scrolls")
        assert box.scroll_x == starts[0], "to the next column, not a cell"
        while box.scroll_x < box.max_scroll_x:
            at = box.scroll_x
            await pilot.press("right")
            await wait_for(pilot, lambda at=at: box.scroll_x > at, "right scrolls on", now=lambda: box.scroll_x)
        shown = screen_text(app)
        assert "optimizer" in shown and "momentum" in shown
        await pilot.press("left")
        await wait_for(pilot, lambda: box.scroll_x < box.max_scroll_x, "left scrolls back")
        assert box.scroll_x in starts
