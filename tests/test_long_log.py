"""A long log opens at once: its history is folded apart from the UI (history_reader), the run's
status and position are shown meanwhile, keys work, and the folded figures are those of a full
synchronous fold."""

from __future__ import annotations

import collections
import dataclasses
import threading

import pytest
from helpers import wait_for
from textual.widgets import TabbedContent

from mnist_tui.run.folder import EventTail
from mnist_tui.tui import controller as controller_module
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.history_reader import HistoryProcess, fold_log
from mnist_tui.tui.screens import run_screen as run_screen_module
from mnist_tui.tui.screens.help_screen import HelpScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.state import RunState
from tools.bench import write_finished_run


def plain(value):
    """A state's figures as plain values that compare with ==, whatever object holds them."""
    if isinstance(value, (collections.deque, list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__") and not dataclasses.is_dataclass(value):
        return plain({k: v for k, v in vars(value).items() if k not in ("dirty", "new_log_lines")})
    return value


def full_fold(path) -> RunState:
    state = RunState()
    state.apply(EventTail(path).read()[0])
    return state


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    """A finished run of 20,000-odd events (26 epochs of 781 batches, statistics, validations)."""
    return write_finished_run(tmp_path_factory.mktemp("runs"), "long", epochs=26)


def test_the_history_read_in_steps_and_apart_is_the_full_fold(long_run):
    events = long_run / "events.jsonl"
    expected = plain(full_fold(events))
    assert len(expected["loss_history"]["buckets"]) > 100 and expected["test"] is not None
    assert plain(fold_log(events).state) == expected
    read = HistoryProcess(events).wait(lambda fraction: None)  # the child process, as `watch` runs it
    assert read is not None and plain(read.state) == expected
    assert read.position[1] == events.stat().st_size and read.finished is not None


class SlowReader:
    """A history read that stops at 40 % until the test lets it go on."""

    go_on = threading.Event()

    def __init__(self, path) -> None:
        self.path = path

    def wait(self, progress):
        progress(0.4)
        SlowReader.go_on.wait(30)
        return fold_log(self.path)

    def stop(self) -> None:
        SlowReader.go_on.set()


@pytest.mark.anyio
async def test_the_run_shows_and_keys_work_while_its_history_is_read(long_run, monkeypatch):
    monkeypatch.setattr(run_screen_module, "HISTORY_IN_WORKER_BYTES", 0)
    monkeypatch.setattr(controller_module, "HistoryProcess", SlowReader)
    SlowReader.go_on.clear()
    app = MnistApp(long_run.parent, RunController(long_run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        header = screen.query_one("#header")
        await wait_for(pilot, lambda: "reading history 40 %" in str(header.render()), "the reading shown")
        text = str(header.render())
        assert "finished" in text and "epoch 26/26" in text and "batch 781/781" in text
        assert "40 %" in str(screen.query_one("#reading-history").render())
        assert not screen.query_one("#tabs").display  # no partial tab shown as if complete
        assert screen.state.step == 0 and not screen.state.evals  # nothing folded into the views yet
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help opened")
        await pilot.press("escape")
        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "layers"
        assert screen.reading == 0.4
        SlowReader.go_on.set()
        await wait_for(pilot, lambda: screen.reading is None, "the history read")
        await pilot.pause()
        assert plain(screen.state) == plain(full_fold(long_run / "events.jsonl"))
        assert "reading" not in str(header.render()) and screen.query_one("#tabs").display


@pytest.mark.anyio
async def test_quitting_while_the_history_is_read_ends_cleanly(long_run, monkeypatch):
    monkeypatch.setattr(run_screen_module, "HISTORY_IN_WORKER_BYTES", 0)
    monkeypatch.setattr(controller_module, "HistoryProcess", SlowReader)
    SlowReader.go_on.clear()
    app = MnistApp(long_run.parent, RunController(long_run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.reading == 0.4, "the reading shown")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app ended")
    assert app.return_code == 0 and app.controller.closed
