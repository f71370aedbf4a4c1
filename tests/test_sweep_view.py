"""Sweeps as they progress: a run's wall time from its folder's making to its last event, the
runs still to train listed, each run's progress, markers that stay put, and no word about
differences until there are two runs to tell apart."""

from __future__ import annotations

import json

import pytest
from helpers import wait_for
from textual.widgets import Static

from mnist_tui.run import events as ev
from mnist_tui.run import strict_json
from mnist_tui.run.control import hold_trainer_lock
from mnist_tui.run.index import SWEEP, summarise
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.screens.compare_screen import MARKERS, CompareScreen
from mnist_tui.tui.screens.runs_screen import row_cells

T0 = 1_795_000_000.0


def write_run(folder, config: dict, timed_events: list[tuple[float, ev.Event]], created: float | None = T0):
    """A run folder whose events carry the given times (seconds after T0)."""
    folder.mkdir(parents=True)
    saved = {"config": config} | ({"created": created} if created is not None else {})
    (folder / "config.json").write_text(json.dumps(saved))
    lines = [strict_json.dumps({**e.to_json(), "time": T0 + t}) for t, e in timed_events]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def short_run(epochs: int = 1, done: bool = True, start: float = 12.0) -> list[tuple[float, ev.Event]]:
    """Paddle loads for `start` s after the folder is made; ten batches at 0.2 s; a validation."""
    out = [(start, ev.RunStarted("r", "CPU", {"batch_size": 64}, epochs, 10, 640, 100, [])),
           (start, ev.StatusChanged("running"))]
    out += [(start + 0.2 * (s + 1), ev.BatchMetrics(0, s, s, 1.0, 0.5, 3200.0, 0.2 * (s + 1))) for s in range(10)]
    out.append((start + 4, ev.EvalResult("val", 1, 0, 10, 0.5, 0.9, size=100)))
    if done:
        out += [(start + 7, ev.Finished("done", test_acc=0.9)), (start + 30, ev.LayerStats(1, 0, 10, []))]
    return out


def test_a_runs_wall_time_counts_its_start_up_and_stops_at_its_end(tmp_path):
    run = summarise(write_run(tmp_path / "a", {"epochs": 1}, short_run()))
    # From the folder's making (T0) to Finished at 19 s; the batches' own clock says 2 s, and the
    # inspection after the end does not count.
    assert run.wall_s == pytest.approx(19.0)
    assert row_cells(run, marked=False)[-2] == "0:19"
    assert run.started == T0


def test_a_resumed_runs_wall_time_adds_up_its_trainers_lives(tmp_path):
    first = short_run(done=False)  # killed at 16 s
    second = [(100 + t, e) for t, e in [(0.0, ev.StatusChanged("resumed", "from checkpoint at step 10")),
                                        *short_run(start=5.0)]]
    run = summarise(write_run(tmp_path / "a", {"epochs": 1}, first + second))
    assert run.wall_s == pytest.approx(16.0 + 12.0)  # not the 96 s it lay dead in between


def test_a_live_runs_wall_time_reaches_its_newest_batch(tmp_path):
    run = summarise(write_run(tmp_path / "a", {"epochs": 1}, short_run(done=False)[:7], created=None))
    assert run.wall_s == pytest.approx(1.0)  # RunStarted at 12 s, its fifth batch at 13 s; no `created`: an older log


def make_sweep(folder, names: list[str]):
    folder.mkdir()
    (folder / SWEEP).write_text(json.dumps({"runs": [{"name": n, "argv": []} for n in names], "parallel": 1}))


@pytest.mark.anyio
async def test_the_sweep_view_lists_pending_runs_keeps_markers_and_waits_for_two_runs(tmp_path):
    sweep = tmp_path / "sweep-1"
    make_sweep(sweep, ["optimizer=sgd", "optimizer=adam", "optimizer=momentum"])
    write_run(sweep / "optimizer=sgd", {"epochs": 1, "optimizer": "sgd"}, short_run())
    app = MnistApp(tmp_path, compare=[sweep])
    async with app.run_test(size=(100, 30)) as pilot:
        def table() -> list[str]:
            return str(app.screen.query_one("#compare-table", Static).render()).splitlines()

        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and "pending" in "\n".join(table()),
                       "the sweep view")
        rows = table()
        assert rows[1].split()[:4] == [MARKERS[0], "optimizer=sgd", "finished", "1/1"]  # its progress in epochs
        assert rows[2].split()[:3] == [MARKERS[1], "optimizer=adam", "pending"]
        assert rows[3].split()[:3] == [MARKERS[2], "optimizer=momentum", "pending"]
        assert not any("differ" in r or "the same" in r for r in rows), "one run: nothing to compare yet"
        assert "1 of 3 runs ended" in str(app.screen.query_one("#compare-title", Static).render())
        # adam starts (and sorts before sgd by name): sgd keeps its marker.
        adam = write_run(sweep / "optimizer=adam", {"epochs": 1, "optimizer": "adam"}, short_run(done=False))
        with hold_trainer_lock(adam):  # its trainer lives
            await wait_for(pilot, lambda: table()[2].split()[2] == "training", "the second run shown", now=table)
            rows = table()
        assert rows[1].split()[:2] == [MARKERS[0], "optimizer=sgd"]
        assert rows[2].split()[:4] == [MARKERS[1], "optimizer=adam", "training", "1/1"]
        assert rows[-1] == "They differ in: optimizer"
