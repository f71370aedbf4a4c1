"""SVG snapshots of the charts on long and busy runs, at 80x24 and 160x45, fed with scripted logs
(no training). Update with `pytest tests/test_chart_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest
from helpers import drawn, wait_for
from scripted import evaluations_events, write_run

from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]


def shown(key: str, scrolled_to: str | None = None):
    """A run_before: the finished run and its whole history read, tab `key` shown with its charts drawn."""
    async def run_before(pilot):
        screen = next(s for s in pilot.app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.status.ended and screen.reading is None, "the whole history read")
        await pilot.press(key)
        await drawn(pilot)
        if scrolled_to:
            screen.query_one(scrolled_to).scroll_visible(animate=False, top=True)
            await pilot.pause()
    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_24_evaluations_on_the_validation_tab(snap_compare, tmp_path, size):
    run = write_run(tmp_path, "evals", evaluations_events(24))
    assert snap_compare(MnistApp(tmp_path, RunController(run)), terminal_size=size,
                        run_before=shown("3", "#accuracy-chart"))


@pytest.mark.parametrize("size", SIZES)
def test_a_100000_batch_history_with_one_spike(snap_compare, spike_run, size):
    assert snap_compare(MnistApp(spike_run.parent, RunController(spike_run)), terminal_size=size,
                        run_before=shown("1"))
