"""View settings are reactives: a key changes the setting, and the widget that shows it follows."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import wait_for
from scripted import ScriptedTrainer, fixed_events
from textual.widgets import Static

from mnist_tui.run import events as ev
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.snapshot_screen import SnapshotScreen
from mnist_tui.tui.widgets.charts import HistoryChart


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_the_snapshot_views_shades_and_browsing_follow_their_keys(tmp_path):
    snap = next(e for e in fixed_events() if isinstance(e, ev.SnapshotTaken))
    later = dataclasses.replace(snap, epoch=1, batch=90, step=190)
    app = MnistApp(tmp_path, RunController(ScriptedTrainer(tmp_path, fixed_events()).path))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(SnapshotScreen([snap, later], 0))  # mounted
        title = app.screen.query_one("#snapshot-title", Static)
        assert "Snapshot 1/2" in str(title.render()) and "blue → yellow" in str(title.render())
        await pilot.press("h")
        assert app.screen.shades and "dark → bright" in str(title.render())
        await pilot.press("right")
        assert app.screen.index == 1 and "Snapshot 2/2" in str(title.render()) and "step 190" in str(title.render())
        await pilot.press("left", "h")
        assert "Snapshot 1/2" in str(title.render()) and "blue → yellow" in str(title.render())


@pytest.mark.anyio
async def test_smoothing_and_the_log_scale_redraw_the_loss_chart(tmp_path):
    app = MnistApp(tmp_path, RunController(ScriptedTrainer(tmp_path, fixed_events()).path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.state.step > 0, "the run read")
        chart = screen.query_one(HistoryChart)
        await pilot.press("minus")
        assert screen.smoothing == 2 and chart._level == 2, "the chart drawn at the new smoothing"
        await pilot.press("l")
        assert screen.log_loss and chart._log_loss
        await pilot.press("l", "plus")
        assert screen.smoothing == 3 and chart._level == 3 and not chart._log_loss
