"""Text from a log or another process is shown as it is, never read as Textual or Rich markup:
gloo's messages (`[/paddle/third_party/gloo/.../pair.cc:576]`) once crashed every viewer of the
run. Markup-like text goes into every field a view shows (tests/scripted.py), and each view must
show it literally."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import wait_for
from scripted import MARKED, MARKUP_LIKE, ScriptedTrainer, fixed_events, markup_like_events
from textual.widgets import Static
from textual.widgets._toast import Toast

from mnist_tui.run import events as ev
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.compare_screen import CompareScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import RunsScreen
from mnist_tui.tui.screens.snapshot_screen import LayerPicker, SnapshotPicker, SnapshotScreen


@pytest.fixture
def anyio_backend():
    return "asyncio"


def on_screen(app: MnistApp) -> str:
    """The characters the terminal shows now."""
    return "\n".join("".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips())


def text_of(app: MnistApp, selector: str) -> str:
    """A widget's whole text, as drawn (also the part scrolled out of view)."""
    return str(app.screen.query_one(selector, Static).render())


def toasts(app: MnistApp) -> str:
    return "\n".join(str(toast.render()) for toast in app.screen.query(Toast))


class Refusing(ScriptedTrainer):
    """A trainer whose refusals quote markup-like text, as an exception's message may."""

    def request_checkpoint(self) -> None:
        raise RuntimeError("no room [/x] in [bold]")


FOLDER = "run-[bold]b"  # a folder name cannot hold "/"


def hostile_trainer(root, name: str = FOLDER) -> Refusing:
    return Refusing(root, markup_like_events(), name=name,
                    config={"epochs": 2, "batch_size": 64, "optimizer": MARKED, "schedule": "[/x]"})


@pytest.mark.anyio
async def test_markup_like_text_in_every_event_field_shows_literally(tmp_path):
    trainer = hostile_trainer(tmp_path)
    app = MnistApp(tmp_path, RunController(trainer.path))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.state.error is not None and "rank 1 said" in toasts(app),
                       what="the whole log read, the alert shown")
        alert = toasts(app)
        assert "[/x]" in alert and "[bold]" in alert, alert
        header = text_of(app, "#header")
        assert FOLDER in header and "CPU [/x]" in header, header
        panel = text_of(app, "#error-panel")
        assert all(piece in panel for piece in MARKUP_LIKE) and f"runs/{MARKED}/run.log" in panel, panel
        log = "\n".join(screen.state.log_lines)
        assert all(piece in log for piece in MARKUP_LIKE)
        shown = on_screen(app)
        assert "[/x]" in shown and "[bold]" in shown, shown

        await pilot.press("2")
        assert "conv[/x]" in text_of(app, "#stats-table") and "relu[bold]" in text_of(app, "#stats-table")
        assert "Conv2D[/t]" in text_of(app, "#structure-table")
        assert "relu[bold]: " in text_of(app, "#flags"), text_of(app, "#flags")  # relu2 has dead channels
        assert "relu[bold]" in text_of(app, "#health-map")

        await pilot.press("3")
        diagnosis = text_of(app, "#diagnosis")
        assert all(piece in diagnosis for piece in MARKUP_LIKE), diagnosis

        await pilot.press("2", "o")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotPicker), what="the snapshot list")
        await pilot.pause()
        assert "snap-[bold].npz" in on_screen(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen), what="the snapshot")
        await pilot.pause()
        assert f"of {MARKED}" in text_of(app, "#snapshot-title") and "snap-[bold].npz" in text_of(app, "#snapshot-title")
        assert "conv[/x].weight" in text_of(app, "#numbers-0") and "conv2[bold]" in text_of(app, "#map-1")

        await pilot.press("1", "S")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerPicker), what="the layer list")
        await pilot.pause()
        shown = on_screen(app)
        assert "conv[/x]" in shown and "Conv2D[/t]" in shown, shown
        await pilot.press("escape")

        await pilot.press("c")  # refused, in words quoting the trainer's
        await wait_for(pilot, lambda: "no room" in toasts(app), what="the refusal")
        assert "no room [/x] in [bold]" in toasts(app)


@pytest.mark.anyio
async def test_runs_table_and_compare_view_show_names_and_settings_literally(tmp_path):
    first, second = hostile_trainer(tmp_path), hostile_trainer(tmp_path, name="[red]")
    for trainer in (first, second):
        trainer.finish()
        trainer.exit()
    app = MnistApp(tmp_path, show_runs=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 2,
                       what="the runs table")
        await pilot.pause()
        shown = on_screen(app)
        assert FOLDER in shown and "[red]" in shown and MARKED in shown, shown  # names, the optimiser
        await pilot.press("space", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.loaded,
                       what="the compare view")
        await pilot.pause()
        table = text_of(app, "#compare-table")
        assert FOLDER in table and "[red]" in table, table


def test_events_of_the_script_carry_the_markup_like_text():
    """The script itself: what the tests above feed in is what they look for."""
    events = markup_like_events()
    assert any(isinstance(e, ev.Alert) and all(p in e.message for p in MARKUP_LIKE) for e in events)
    assert any(isinstance(e, ev.LayerStats) and any(r["name"] == "relu[bold]" for r in e.layers) for e in events)


def metrics_named_like_markup() -> list[ev.Event]:
    """A run of someone else's code whose metrics' names look like markup."""
    acc, other = "acc[/x]", "top[bold]"
    out = []
    for event in fixed_events():
        if isinstance(event, ev.RunStarted):
            event = dataclasses.replace(event, accuracy=acc, metrics=["loss", acc, other])
        elif isinstance(event, (ev.BatchMetrics, ev.EvalResult)) and event.acc is not None:
            event = dataclasses.replace(event, metrics={acc: event.acc, other: 0.5})
        out.append(event)
    return out


@pytest.mark.anyio
async def test_metric_names_show_literally(tmp_path):
    trainer = ScriptedTrainer(tmp_path, metrics_named_like_markup())
    app = MnistApp(tmp_path, RunController(trainer.path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: len(screen.state.evals) == 2, what="the log read")
        await pilot.pause()
        shown = on_screen(app)
        assert "top[bold]" in shown, shown  # its sparkline, by name
        await pilot.press("3")
        await pilot.pause()
        assert "Accuracy (acc[/x]) %" in text_of(app, "#accuracy-legend")
    trainer.exit()
