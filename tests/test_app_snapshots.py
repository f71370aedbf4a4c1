"""SVG snapshots of each tab and of the snapshot view at 80x24, fed with fixed events (no training,
so the pictures are stable). Update with `pytest tests/test_app_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest
from helpers import drawn, wait_for
from scripted import STATES, ScriptedTrainer, events_in_state, fixed_events, loss_only_events

from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController


def make_app(tmp_path) -> MnistApp:
    """A paused run with a live stand-in trainer: what a viewer of the real one shows."""
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    return MnistApp(tmp_path, RunController(trainer.path))




def test_training_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("1")  # focuses the log, as a tab switch does
        await drawn(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_layers_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("2")
        await drawn(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_validation_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("3")
        await drawn(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def scrolled_to(key: str, widget: str, top: bool = False):
    """A run_before that shows a tab and scrolls it until `widget` is in view."""
    async def run_before(pilot):
        await pilot.press(key)
        await drawn(pilot)
        pilot.app.screen.query_one(widget).scroll_visible(animate=False, top=top)
        await pilot.pause()
    return run_before


def test_layers_tab_scrolled_to_the_health_map(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=scrolled_to("2", "#health-map"))


def test_validation_tab_scrolled_to_the_mistakes(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24),
                        run_before=scrolled_to("3", "#mistakes-title", top=True))


def test_validation_tab_wide(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=scrolled_to("3", "#diagnosis"))


def test_snapshot_view(snap_compare, tmp_path):
    async def open_view(pilot):
        await drawn(pilot)
        await pilot.press("2", "o", "enter")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "SnapshotScreen", "the snapshot view")
        await drawn(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=open_view)


def test_a_loss_only_run_training_tab(snap_compare, tmp_path):
    """A regression with no metric: one loss sparkline, a loss-only chart, no accuracy anywhere."""
    async def run_before(pilot):
        await pilot.press("1")
        await drawn(pilot)

    app = MnistApp(tmp_path, RunController(ScriptedTrainer(tmp_path, loss_only_events()).path))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_a_loss_only_run_validation_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("3")
        await drawn(pilot)

    app = MnistApp(tmp_path, RunController(ScriptedTrainer(tmp_path, loss_only_events()).path))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def app_in_state(tmp_path, state: str, monkeypatch) -> MnistApp:
    """The run opened by a relative path, so a path on screen (the crash panel's) is the same every time."""
    trainer = ScriptedTrainer(tmp_path, events_in_state(state))
    if state == "crashed":
        trainer.exit()  # gone without a Finished event
    monkeypatch.chdir(tmp_path)
    return MnistApp(".", RunController(trainer.path.name))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
@pytest.mark.parametrize("state", STATES)
def test_run_view_in_each_state(snap_compare, tmp_path, monkeypatch, state, size):
    """The header (status, progress, rate or wall time), settings line and key bar of each state."""
    assert snap_compare(app_in_state(tmp_path, state, monkeypatch), terminal_size=size, run_before=drawn)
