"""The UI never reads a run folder on its event loop: with each kind of read held up (a hung disk,
a stalled network folder), keys still act and the screen still changes; once the read is let go,
what it found shows."""

from __future__ import annotations

import threading

import pytest
from helpers import notified, wait_for
from scripted import ScriptedTrainer, fixed_events
from textual.widgets import DataTable, Static, TabbedContent

from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens import compare_screen as compare_module
from mnist_tui.tui.screens import runs_screen as runs_module
from mnist_tui.tui.screens.compare_screen import CompareScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import NO_RUN_OPEN, RunsScreen


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Gate:
    """Wraps a read so that, while shut, it blocks (as on a hung disk) until opened."""

    def __init__(self, read, shut: bool = True) -> None:
        self.read, self.entered, self.opened = read, threading.Event(), threading.Event()
        if not shut:
            self.opened.set()

    def shut(self) -> None:
        self.entered.clear()
        self.opened.clear()

    def __call__(self, *args, **kwargs):
        if not self.opened.is_set():
            self.entered.set()
            assert self.opened.wait(30), "the test never opened the gate"
        return self.read(*args, **kwargs)


def text(widget: Static) -> str:
    return str(widget.render())


def two_runs(root) -> None:
    for name in ("a-run", "b-run"):
        ScriptedTrainer(root, fixed_events(), name=name, serve=False).exit()


@pytest.mark.anyio
async def test_the_runs_table_sorts_while_its_folder_read_hangs(tmp_path, monkeypatch):
    two_runs(tmp_path)
    gate = Gate(runs_module.list_runs)
    monkeypatch.setattr(runs_module, "list_runs", gate)
    app = MnistApp(tmp_path, show_runs=True)
    try:
        async with app.run_test(size=(100, 24)) as pilot:
            await wait_for(pilot, lambda: gate.entered.is_set() and isinstance(app.screen, RunsScreen), "the read")
            screen, title = app.screen, app.screen.query_one("#runs-title", Static)
            assert "reading…" in text(title) and "sorted by started ↓" in text(title)
            await pilot.press("s")
            assert "sorted by name ↓" in text(title), "the key acted while the folder read hangs"
            await pilot.press("d")
            assert "sorted by name ↑" in text(title)
            assert not screen.loaded and screen.query_one(DataTable).row_count == 0
            gate.opened.set()
            await wait_for(pilot, lambda: screen.loaded, "the read's result")
            assert [r.name for r in screen.runs] == ["a-run", "b-run"]  # in the order picked meanwhile
            assert screen.query_one(DataTable).row_count == 2 and "· 2 ·" in text(title)
    finally:
        gate.opened.set()


@pytest.mark.anyio
async def test_the_compare_view_answers_keys_while_its_runs_are_read(tmp_path, monkeypatch):
    two_runs(tmp_path)
    gate = Gate(compare_module.validation_curve)
    monkeypatch.setattr(compare_module, "validation_curve", gate)
    app = MnistApp(tmp_path, show_runs=True)
    try:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded, "the runs table")
            await pilot.press("space", "space", "c")
            await wait_for(pilot, lambda: gate.entered.is_set(), "the compare view's read")
            screen = app.screen
            assert isinstance(screen, CompareScreen) and not screen.loaded
            await pilot.press("1")  # no run open: the app says so, at once
            assert NO_RUN_OPEN in notified(app)
            assert text(screen.query_one("#compare-table", Static)) == ""
            gate.opened.set()
            await wait_for(pilot, lambda: screen.loaded, "the read's result")
            table = text(screen.query_one("#compare-table", Static))
            assert "a-run" in table and "b-run" in table, table
    finally:
        gate.opened.set()


@pytest.mark.anyio
async def test_the_run_view_takes_keys_and_controls_while_its_log_read_hangs(tmp_path, monkeypatch):
    trainer = ScriptedTrainer(tmp_path, fixed_events())  # paused at its last event
    controller = RunController(trainer.path)
    gate = Gate(controller.read, shut=False)
    monkeypatch.setattr(controller, "read", gate)
    app = MnistApp(tmp_path, controller)
    try:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
            header = screen.query_one("#header", Static)
            await wait_for(pilot, lambda: "paused" in text(header) and controller._client.connected, "the run shown")
            gate.shut()
            await wait_for(pilot, lambda: gate.entered.is_set(), "a frame's read held up")
            await pilot.press("2")
            assert screen.query_one(TabbedContent).active == "layers"
            await pilot.press("1", "minus")
            assert screen.smoothing == 2, "the view setting changed while the read hangs"
            await pilot.press("p")  # the control goes out on the controller's thread, not the folder read
            await wait_for(pilot, lambda: trainer.commands == ["toggle_pause"], "the trainer got p")
            await wait_for(pilot, lambda: "The trainer took p (pause/resume)." in
                           notified(app), "its answer shown")
            assert "paused" in text(header), "the status waits for the read, which is still held up"
            gate.opened.set()
            await wait_for(pilot, lambda: "training" in text(header), "the resumed run shown once the read is let go")
    finally:
        gate.opened.set()
        trainer.exit()


@pytest.mark.anyio
async def test_another_run_opens_while_the_shown_runs_read_hangs(tmp_path, monkeypatch):
    trainer = ScriptedTrainer(tmp_path, fixed_events(), name="live")
    ScriptedTrainer(tmp_path, fixed_events(), name="other", serve=False).exit()
    controller = RunController(trainer.path)
    gate = Gate(controller._tail.read, shut=False)  # the log's read itself, which holds the tail
    monkeypatch.setattr(controller._tail, "read", gate)
    app = MnistApp(tmp_path, controller)
    try:
        async with app.run_test(size=(100, 24)) as pilot:
            screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
            await wait_for(pilot, lambda: "paused" in text(screen.query_one("#header", Static)), "the run shown")
            gate.shut()
            await wait_for(pilot, lambda: gate.entered.is_set(), "a frame's read held up")
            await pilot.press("4")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded, "the runs table")
            app.screen.query_one(DataTable).move_cursor(row=[r.name for r in app.screen.runs].index("other"))
            await pilot.press("enter")  # closing the shown run must not wait for its hung read
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.controller.name == "other",
                           "the other run opened")
            assert controller.closed and controller._tail._file is not None, "the hung read still holds the log"
            gate.opened.set()
            await wait_for(pilot, lambda: controller._tail._file is None, "the log closed once the read ended")
    finally:
        gate.opened.set()
        trainer.exit()
