"""The app with Pilot against scripted runs (no Paddle): a stand-in trainer holds the run folder's
lock, serves its control channel and answers in events, as the real one does. Keys, tables,
dialogs, what each key says when it cannot act, crashed and finished runs, two watchers; plus the
pure history and state logic the views draw from. tests/test_live.py trains for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import drawn, notified, wait_for
from scripted import STATES, ScriptedTrainer, events_in_state, fixed_events, screen_text
from textual.widgets import Log, OptionList, Static, TabbedContent

from mnist_tui.run import events as ev
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.history import Window
from mnist_tui.tui.screens.help_screen import HelpScreen
from mnist_tui.tui.screens.quit_screen import QuitScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import RunsScreen
from mnist_tui.tui.screens.snapshot_screen import LayerPicker, SnapshotScreen
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.header import clock
from mnist_tui.tui.widgets.heatmap import heatmap
from mnist_tui.tui.widgets.key_bar import KeyBar
from mnist_tui.tui.widgets.layers_tab import LayersTab
from mnist_tui.tui.widgets.live_figures import LiveFigures, bar_levels, bar_rows
from mnist_tui.tui.widgets.validation_tab import ValidationTab


@pytest.fixture
def anyio_backend():
    return "asyncio"


def text_of(widget: Static) -> str:
    return str(widget.render())


def run_screen(app: MnistApp) -> RunScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunScreen))


def viewer(trainer: ScriptedTrainer, **kwargs) -> MnistApp:
    return MnistApp(trainer.path.parent, RunController(trainer.path), **kwargs)


@pytest.mark.anyio
async def test_views_drawn_before_the_runs_start_follow_it_once_read(tmp_path):
    trainer = ScriptedTrainer(tmp_path)  # no event yet: the run's figures are not known
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await pilot.press("3")
        result = screen.query_one("#test-result", Static)
        await wait_for(pilot, lambda: "Test loss: when training ends" in text_of(result), what="no accuracy claimed yet")
        trainer.emit(fixed_events()[0])  # RunStarted: this run measures an accuracy
        await wait_for(pilot, lambda: "Test accuracy: when training ends" in text_of(result),
                       what="the Validation tab redrawn for the run's accuracy", now=lambda: text_of(result))


@pytest.mark.anyio
async def test_keys_switch_tabs_and_help(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        tabs = screen.query_one(TabbedContent)
        assert tabs.active == "training"
        for key, tab in (("2", "layers"), ("3", "validation"), ("1", "training"), ("tab", "layers"),
                         ("tab", "validation"), ("tab", "training"), ("shift+tab", "validation")):
            await pilot.press(key)
            assert tabs.active == tab, key
        keys = screen.query_one(KeyBar)
        for key, shown, hidden in (("1", "+/- Smooth", "r Stats"), ("2", "r Stats", "+/- Smooth"),
                                   ("3", "v Validate", "r Stats")):
            await pilot.press(key)
            await pilot.pause()
            assert shown in text_of(keys) and hidden not in text_of(keys), key  # the key bar follows the tab
        await pilot.click(KeyBar, offset=(text_of(keys).index("? Help"), 0))  # its keys can be clicked too
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Ctrl+C" in text_of(app.screen.query_one("#help-box Static", Static))
        await pilot.pause()
        box = app.screen.query_one("#help-box").size
        assert box.width >= 70 and box.height >= 15, f"the help is drawn, not an empty box ({box})"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.click("#--content-tab-runs")  # the fourth tab is the runs table, a screen of its own
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs table")
        await pilot.press("1")
        assert app.screen is screen and tabs.active == "training"


@pytest.mark.anyio
async def test_before_the_first_event_the_tabs_say_so(tmp_path):
    trainer = ScriptedTrainer(tmp_path, serve=False)  # loading Paddle: lock held, no channel yet
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        assert "No evaluation yet" in text_of(screen.query_one("#diagnosis", Static))
        assert "starting" in text_of(screen.query_one("#header", Static))
        await pilot.press("2", "a")
        await wait_for(pilot, lambda: "Training is starting" in notified(app), what="a says why before the start")
        await pilot.press("p")
        await wait_for(pilot, lambda: notified(app).count("Training is starting") == 2, what="p says why")


@pytest.mark.anyio
async def test_layers_and_validation_tables_show_the_run(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        tab = screen.query_one(LayersTab)
        await wait_for(pilot, lambda: len(tab.structure) == 8, what="layer rows")
        await pilot.press("2")
        assert tab.cell("structure", "conv1", "output shape") == "[64, 20, 28, 28]"
        assert tab.cell("structure", "conv2", "param shape") == "[20,20,5,5]+[20]"
        lines = text_of(screen.query_one("#structure-table", Static)).splitlines()
        assert [line.split()[0] for line in lines[1:]] == [
            "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"]
        await pilot.press("3")
        vtab = screen.query_one(ValidationTab)
        await wait_for(pilot, lambda: len(vtab.rows) == 2, what="two evaluation rows")
        e = screen.state.evals[-1]
        row = dict(zip(("at", "rl", "ra", "tl", "ta", "vl", "va", "gap"), vtab.rows[-1]))
        assert float(row["gap"]) == pytest.approx(100 * e.gap, abs=0.006)
        assert float(row["ra"]) == pytest.approx(100 * e.running_acc, abs=0.006)  # the running figure apart
        assert text_of(screen.query_one("#diagnosis", Static)).startswith(e.diagnosis)
        await wait_for(pilot, lambda: "Confusion matrix" in text_of(screen.query_one("#mistakes-title", Static)),
                       what="the confusion matrix panel")
        assert "4 → 9" in text_of(screen.query_one("#confused-pairs", Static))


@pytest.mark.anyio
async def test_controls_reach_the_trainer_and_its_answers_show(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        header = screen.query_one("#header", Static)
        assert "paused" in text_of(header)
        await pilot.press("p")
        await wait_for(pilot, lambda: "training" in text_of(header), what="resumed, shown in the header")
        assert trainer.commands == ["toggle_pause"]
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.status is RunStatus.PAUSED, what="paused again")
        stats = len(screen.state.stats_history)
        await pilot.press("2", "r")
        await wait_for(pilot, lambda: len(screen.state.stats_history) > stats, what="statistics on r")
        await wait_for(pilot, lambda: "epoch 2, batch 42 " in text_of(screen.query_one("#taken-at", Static)),
                       what="the new statistics shown")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen), what="the snapshot opens")
        await pilot.press("3")  # a tab key leaves the snapshot view for that tab
        assert app.screen is screen and screen.query_one(TabbedContent).active == "validation"
        await pilot.press("v")  # controls go one at a time: c is pressed once v has been answered
        await wait_for(pilot, lambda: trainer.commands[-1] == "request_validation" and screen.controller.pending is None,
                       what="v sent and answered")
        await pilot.press("c")
        await wait_for(pilot, lambda: trainer.commands[-2:] == ["request_validation", "request_checkpoint"],
                       what="v and c sent")
        for _ in range(8):
            await pilot.press("1", "plus")
        assert "Smoothing is already at its most" in notified(app)
        await pilot.press("2", "m")
        assert "Health map (Layers tab): activation std" in notified(app)


@pytest.mark.anyio
async def test_shift_s_picks_the_layer_snapshots_show(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerPicker), what="the layer picker")
        listed = [str(option.prompt) for option in app.screen.query_one(OptionList).options]
        assert [line.split()[0] for line in listed[1:]] == ["conv1", "conv2", "fc"]  # convolutions and linear only
        await pilot.press("down", "down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen), what="the snapshot of fc opens")
        assert trainer.commands == ["request_snapshot fc"]

        def shown() -> str:
            return "\n".join(text_of(w) for w in app.screen.query(Static))

        await wait_for(pilot, lambda: "Snapshot 2/2 of fc" in shown(), what="the snapshot drawn")
        body = shown()
        assert "Snapshot 2/2 of fc" in body and "fc outputs, sample 0" in body and "fc.weight, a row per output" in body
        assert "-1.000 -0.750" in body  # the outputs, as numbers
        await pilot.press("escape", "s")  # s now repeats the picked layer
        # Until the view it opens is drawn: the app closing while a view mounts is not this test's subject.
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen) and "Snapshot 3/3 of fc" in shown(),
                       what="s took another of fc", now=lambda: trainer.commands)
        assert trainer.commands == ["request_snapshot fc", "request_snapshot fc"]


@pytest.mark.anyio
async def test_two_watchers_both_work(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    first, second = viewer(trainer), viewer(trainer)
    async with first.run_test(size=(80, 24)) as one, second.run_test(size=(80, 24)) as two:
        await wait_for(one, lambda: trainer.live.viewers == 2, what="both attached")
        await one.press("p")
        await wait_for(two, lambda: run_screen(second).status is RunStatus.TRAINING, what="the other sees it")
        await two.press("p")
        await wait_for(one, lambda: run_screen(first).status is RunStatus.PAUSED, what="and back")
    assert trainer.commands == ["toggle_pause", "toggle_pause"]


@pytest.mark.anyio
async def test_q_asks_stop_background_or_cancel(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, QuitScreen) and app.return_code is None
        await pilot.press("q", "s")
        await wait_for(pilot, lambda: app.return_code is not None, what="left once stopped")
    assert trainer.commands == ["stop"] and app.return_code == 130  # stopped, as headless says it
    trainer = ScriptedTrainer(tmp_path / "b", fixed_events())
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q", "b")
        await wait_for(pilot, lambda: app.return_code is not None, what="left at once")
    assert trainer.commands == [] and app.detached and app.return_code == 0


@pytest.mark.anyio
async def test_ctrl_c_stops_the_run_this_app_started_but_a_watcher_only_leaves(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer, owns_run=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        assert not isinstance(app.screen, QuitScreen), "Ctrl+C does not ask"
        await wait_for(pilot, lambda: app.return_code is not None, what="left once stopped")
    assert trainer.commands == ["stop"] and app.return_code == 130
    watched = ScriptedTrainer(tmp_path / "b", fixed_events())
    app = viewer(watched)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert watched.commands == [] and app.return_code == 0, "a watcher leaves a training run: 0"


@pytest.mark.anyio
async def test_finished_run_answers_while_its_trainer_lives_then_is_read_only(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    trainer.finish("done")
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: screen.status is RunStatus.FINISHED, what="finished")
        await pilot.press("2", "r")
        await wait_for(pilot, lambda: "request_layer_stats" in trainer.commands, what="r on the final model")
        for key in ("p", "c", "a"):
            await pilot.press(key)
        await wait_for(pilot, lambda: notified(app).count("Training has ended (finished)") == 3, what="p, c, a say why")
        trainer.exit()
        await wait_for(pilot, lambda: not screen.controller.alive, what="the trainer gone")
        await pilot.press("v")
        await wait_for(pilot, lambda: "read-only" in notified(app), what="v says the run is read-only")
        assert screen.status is RunStatus.FINISHED, "a clean end is not a crash"
        await pilot.press("q")  # nothing trains: no question
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert app.return_code == 0


@pytest.mark.anyio
async def test_a_trainer_gone_without_finishing_shows_as_crashed(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    trainer.exit()
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        panel = screen.query_one("#error-panel", Static)
        await wait_for(pilot, lambda: panel.has_class("-shown"), what="the crash panel")
        assert "mnist-tui --resume" in text_of(panel) and str(trainer.path) in text_of(panel)
        assert "no checkpoint yet" in text_of(panel) and "starts it again" in text_of(panel)  # killed before the first
        assert "crashed" in text_of(screen.query_one("#header", Static))
        await pilot.press("p")
        await wait_for(pilot, lambda: "crashed" in notified(app), what="p says why")
    stem = trainer.path / "checkpoints" / "step-0000100"
    for suffix, text in ((".pdparams", "{}"), (".pdopt", "{}"), (".json", '{"epoch": 1, "batch": 0, "step": 100}')):
        Path(str(stem) + suffix).write_text(text)
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = run_screen(app).query_one("#error-panel", Static)
        await wait_for(pilot, lambda: panel.has_class("-shown"), what="the crash panel")
        assert "Go on from its newest checkpoint: mnist-tui --resume" in text_of(panel)


@pytest.mark.anyio
async def test_divergence_ends_with_exit_status_3(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer, owns_run=True)
    async with app.run_test(size=(80, 24)) as pilot:
        trainer.emit(ev.Alert("error", "training diverged at epoch 1, batch 41: loss exploded", 1, 41))
        await wait_for(pilot, lambda: "training diverged" in notified(app), what="the alert")
        trainer.emit(ev.StatusChanged("diverged"))
        trainer.finish("diverged")
        await wait_for(pilot, lambda: run_screen(app).status is RunStatus.DIVERGED, what="diverged")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert app.return_code == 3


@pytest.mark.anyio
async def test_a_resumed_log_is_read_again_from_the_start(tmp_path):
    from mnist_tui.run.folder import EventLog, atomic_write_text

    trainer = ScriptedTrainer(tmp_path, fixed_events())
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: screen.state.loss_history.count == 150, what="the history")
        await pilot.press("question_mark")  # an overlay open meanwhile
        atomic_write_text(trainer.run.events_path, "")  # what a resume with no checkpoint does
        await wait_for(pilot, lambda: screen.state.loss_history.count == 0, what="the view starts over")
        assert [type(s).__name__ for s in app.screen_stack].count("RunScreen") == 1
        assert isinstance(app.screen, HelpScreen), "the overlay stays"
        resumed_log = EventLog(trainer.run.events_path)  # the resumed trainer writes the new file
        resumed_log(ev.BatchMetrics(0, 0, 0, 2.0, 0.1, 100.0, 0.1))
        await wait_for(pilot, lambda: screen.state.loss_history.count == 1, what="new events still arrive")


@pytest.mark.anyio
async def test_header_fits_80_columns_with_the_eta(tmp_path):
    """A full-size run at 12,345 images/s: at 80 columns the device and the elapsed time's label
    make way, the rate and the ETA stay whole."""
    run = ev.RunStarted("run", "CPU ×2 (auto: no CUDA GPU visible)", {"batch_size": 64}, 5, 781, 50_000, 10_000, [])
    events = [run, ev.StatusChanged("running"), ev.BatchMetrics(0, 243, 243, 0.5, 0.9, 12345.0, 75.0)]
    for width, wide in ((80, False), (160, True)):
        app = viewer(ScriptedTrainer(tmp_path / str(width), events, name="20261128-033054"))
        async with app.run_test(size=(width, 24)):
            screen = run_screen(app)
            header = screen._header_text().plain
        assert len(header) <= width - 2 and "batch 244/781" in header and "12,345 img/s" in header
        eta = (50_000 // 64 * 5 - 244) * 64 / 12345  # a log from before evaluations were sized: training only
        assert header.endswith(f"ETA >{clock(eta)}")
        assert ("elapsed 1:15" in header) == wide and "1:15" in header
        assert ("CPU ×2" in header) == wide


@pytest.mark.anyio
async def test_small_terminal_shows_notice_and_resizing_survives(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        notice = screen.query_one("#too-small", Static)
        assert not notice.display
        for size in ((200, 50), (40, 12), (80, 24), (40, 12)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda size=size: app.size == size, f"the app at {size}", now=lambda: app.size)
        await wait_for(pilot, lambda: app.has_class("-too-small") and notice.display, "the notice at 40x12")
        assert "Enlarge the terminal" in text_of(notice) and not screen.query_one("#main").display
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: not notice.display and screen.query_one("#main").display, "the view back at 80x24")


@pytest.mark.anyio
async def test_paused_figures_hold_still(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: screen.state.step == 149, what="the history")
        state, figures = screen.state, screen.query_one(LiveFigures)

        def rows() -> list[str]:
            return [figures.render_line(y).text for y in range(3)]

        await wait_for(pilot, lambda: "now " in rows()[0], "the figures drawn", now=rows)
        loss_row, acc_row, progress = rows()
        assert loss_row.startswith("loss") and f"now {state.loss_window.current:.4f}" in loss_row
        assert f"best {state.best_acc:.3f}" in acc_row
        assert f"{round(100 * (state.batch + 1) / state.bpe)}%" in progress.split("run")[0]


def test_app_modules_do_not_import_paddle():
    """The viewer's process, the app's launch included (a Session is built before the background
    trainer starts), never imports Paddle: its import costs seconds and prints warnings."""
    code = ("import sys, mnist_tui.tui.app, mnist_tui.cli.watch, mnist_tui.cli.runs, mnist_tui.tui.screens.runs_screen,"
            " mnist_tui.tui.screens.compare_screen, mnist_tui.cli.train, mnist_tui.engine.session, mnist_tui.engine.ranks,"
            " mnist_tui.host.background;"
            "print('paddle' in sys.modules, 'mnist_tui.engine.loop' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- pure logic ----
def test_window_figures_skip_non_finite():
    window = Window(3)
    for v in (4.0, float("nan"), 1.0, 2.0):
        window.add(v)
    assert window.current == 2.0 and window.mean == 1.5 and window.finite() == [1.0, 2.0]


def test_sparkline_bars_follow_the_data_top_row_first():
    levels = bar_levels([0.0, 1.0, 2.0, 3.0], width=8, height=2)
    assert levels == [0, 0, 5, 5, 10, 10, 15, 15]  # each value fills two columns; 15 = full 2 rows
    top, bottom = bar_rows(levels, height=2)
    assert "".join(text for text, _ in top) == "    ▃▃██"
    assert "".join(text for text, _ in bottom) == "▁▁▆▆████"
    assert len(bottom) < len(levels)  # neighbouring bars of one colour are one segment
    assert bar_levels([], width=3, height=1) == [0, 0, 0]  # no data: a flat line


def started(**config) -> ev.RunStarted:
    layers = [{"name": "relu1", "output_shape": [64, 20, 28, 28]}, {"name": "fc", "output_shape": [64, 10]}]
    return ev.RunStarted("run", "CPU", {"batch_size": 64, "weight_decay": 0.0, **config}, 2, 10, 640, 200, layers)


def stats_row(name, peak, dead=0.0):
    return {"name": name, "mean": 0.1, "std": 0.1, "min": 0.0, "max": peak, "zero_frac": 0.5, "dead_frac": dead,
            "grad_norm": None, "update_ratio_log10": None}


def test_state_shows_the_engines_diagnosis_of_the_newest_validation():
    state = RunState()
    state.apply([started(l2={"fc": 1e-3})])
    assert "No evaluation" in state.diagnosis()
    state.apply([ev.EvalResult("val", 0, 10, 10, 0.5, 0.90, 0.6, 0.85, 0.4, 0.92, 1000, 1000, "fine", "Fine: a")])
    state.apply([ev.EvalResult("test", 1, 0, 20, 0.3, 0.90)])
    assert state.diagnosis() == "Fine: a (epoch 1, batch 10)"
    state.apply([ev.EvalResult("val", 1, 10, 20, 0.3, 0.90, 0.2, 0.95, 0.1, 0.97, 1000, 1000, "over-fitting",
                               "Over-fitting: b")])
    assert state.diagnosis() == "Over-fitting: b (epoch 2, batch 10)"
    assert "[diagnosis] Over-fitting: b" in state.log_lines
    assert state.lowest_val_loss().epoch == 1


def test_state_flags_dead_and_exploding_units_in_words():
    state = RunState()
    state.apply([started(), ev.LayerStats(0, 1, 1, [stats_row("relu1", 1.0, dead=0.1), stats_row("fc", 2.0)])])
    assert state.flags == {"relu1": "2 dead channels", "fc": "ok"}
    state.apply([ev.LayerStats(0, 5, 5, [stats_row("relu1", 1.0), stats_row("fc", 2000.0)])])
    assert state.flags["relu1"] == "ok" and state.flags["fc"].startswith("exploding: x1000")
    state.apply([ev.LayerStats(0, 6, 6, [stats_row("relu1", float("nan")), stats_row("fc", 2000.0)])])
    assert "non-finite" in state.flags["relu1"]


def test_state_keeps_course_log_lines_and_bounded_memory():
    state = RunState(window=50, history_points=100)
    state.apply([started()])
    state.apply([ev.BatchMetrics(0, i % 10, i, 1.0 / (i + 1), 0.5, 600.0, i / 10) for i in range(20_000)])
    assert len(state.loss_window.values) == 50 and len(state.loss_history.buckets) <= 100
    assert len(state.log_lines) == 500  # bounded: the oldest lines went
    assert state.log_lines[-1] == "epoch: 0, batch: 8, loss is: [0.000050], acc is [0.500000]"  # step 19998


def test_heatmap_reads_without_colour():
    grid = [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]]
    plain = heatmap(grid, colour=False).plain.splitlines()
    assert plain == [" █", "▒▒"]
    assert set(heatmap(grid, colour=True).plain.replace("\n", "")) == {"▀"}




@pytest.mark.anyio
async def test_scrollbar_thumbs_are_whole_cells_not_sparkline_glyphs(tmp_path):
    """Textual ends a scrollbar thumb with eighth blocks, which at the log's right end read as
    stray sparkline cells (`▅▅`); the app's scrollbars use whole cells."""
    from textual.scrollbar import ScrollBarRender

    from mnist_tui.tui.app import WholeCellScrollBar

    def glyphs(renderer) -> set[str]:
        bar = renderer.render_bar(size=5, virtual_size=60, window_size=5, position=31)
        return {char for segment in bar.segments for char in segment.text}

    assert glyphs(ScrollBarRender) & set("▁▂▃▄▅▆▇"), "what Textual draws by itself"
    assert not glyphs(WholeCellScrollBar) & set("▁▂▃▄▅▆▇")
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)):
        log = run_screen(app).query_one("#log")
        assert log.vertical_scrollbar.renderer is WholeCellScrollBar


@pytest.mark.anyio
async def test_each_ranks_time_shows_in_the_training_log(tmp_path):
    events = [*fixed_events()[:2], ev.RankTimes(0, 100, 100, 100, [41.2, 40.9], [5.1, 4.8])]
    app = viewer(ScriptedTrainer(tmp_path, events))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        log = screen.query_one(Log)
        await wait_for(pilot, lambda: any("[ranks]" in line for line in log.lines), what="the ranks' line")
        (line,) = [line for line in log.lines if "[ranks]" in line]
        assert line == "[ranks] ms a batch (in the all-reduce): 0: 41.2 (5.1) · 1: 40.9 (4.8)"


@pytest.mark.anyio
async def test_a_loop_that_validates_only_says_so_on_the_validation_tab(tmp_path):
    """A Monitor run (someone else's loop): evaluations with loss and accuracy only, no test."""
    events = [*fixed_events()[:2], ev.EvalResult("val", 0, 100, 100, 0.21, 0.93, size=1000),
              ev.EvalResult("val", 1, 0, 200, 0.15, 0.95, size=1000)]
    trainer = ScriptedTrainer(tmp_path, events)
    trainer.finish("done")
    trainer.exit()
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await pilot.press("3")
        await wait_for(pilot, lambda: screen.status.ended and "No test result" in text_of(screen.query_one("#test-result")),
                       what="the finished run's validation tab")
        assert text_of(screen.query_one("#diagnosis")).startswith("Validation accuracy 95.00% (loss 0.1500) at epoch 1")
        assert "No diagnosis" in text_of(screen.query_one("#diagnosis"))
        assert "validation only" in text_of(screen.query_one("#eval-note"))
        assert "No confusion matrix" in text_of(screen.query_one("#mistakes-title"))
        await pilot.pause()
        screen._replot()
        await pilot.pause()
        chart = screen.query_one(ValidationTab).query_one("#accuracy-chart")
        assert any("95.00" in chart.render_line(y).text for y in range(chart.size.height)), "newest val acc labelled"


def key_bar_text(app: MnistApp) -> str:
    return text_of(app.screen.query_one(KeyBar))


@pytest.mark.anyio
@pytest.mark.parametrize("state", STATES)
async def test_no_header_or_key_bar_is_cut_at_80x24(tmp_path, state):
    """In every state, tab and dialog: the header fits whole, and the key bar fits and ends with
    the screen's way out; keys that cannot act are not offered."""
    trainer = ScriptedTrainer(tmp_path, events_in_state(state))
    if state == "crashed":
        trainer.exit()
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        await wait_for(pilot, lambda: screen.state.started is not None and screen._shown_status is not None
                       and screen.status.value == {"validating": "training"}.get(state, state), what="the state")
        for tab in ("1", "2", "3"):
            await pilot.press(tab)
            await drawn(pilot)
            header, keys = screen._header_text().plain, key_bar_text(app)
            assert len(header) <= 78 and len(keys) <= 80, (state, tab, header, keys)
            assert keys.endswith("q Quit"), (state, tab, keys)
            assert ("p Resume" in keys) == (state == "paused")
            assert ("p Pause" in keys) == (state in ("training", "validating"))
            assert ("c Checkpoint" in keys) == (state in ("training", "validating", "paused"))
            assert ("s Snapshot" in keys) == (state != "crashed")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and key_bar_text(app) == " Esc Close"
        await pilot.press("escape")
        if state in ("training", "validating", "paused"):
            await pilot.press("q")
            assert isinstance(app.screen, QuitScreen)
            assert key_bar_text(app) == " s Stop it b Leave it training Esc Stay", "the dialog's own keys"
            await pilot.press("escape")


@pytest.mark.anyio
async def test_the_quit_dialog_fits_50x15(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await drawn(pilot)
        box = app.screen.query_one("#confirm-box", Static)
        longest = max(len(line) for line in text_of(box).splitlines())
        assert box.region.x >= 0 and box.region.right <= 50 and box.region.bottom <= 15
        assert box.content_region.width >= longest and box.content_region.height >= len(text_of(box).splitlines())


@pytest.mark.anyio
async def test_the_log_wraps_and_follows_after_a_resize(tmp_path):
    events = fixed_events()[:-1]
    trainer = ScriptedTrainer(tmp_path, events)
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = run_screen(app)
        log = screen.query_one(Log)
        await wait_for(pilot, lambda: screen.state.started is not None and log.line_count > 3, what="the log")
        long = "[diagnosis] " + "word " * 40
        trainer.emit(ev.StatusChanged("running", long))
        await wait_for(pilot, lambda: any("word word" in line for line in log.lines[-3:]), what="a long line")
        assert all(len(line) <= log.scrollable_content_region.width for line in log.lines), "wrapped, not cut"
        for size in ((200, 60), (80, 24)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda size=size: app.size == size, f"the app at {size}", now=lambda: app.size)
        for step in range(150, 200):  # the next epoch's lines arrive after the resizes
            trainer.emit(ev.BatchMetrics(1, step % 100, step, 0.1, 0.9, 600.0, step / 10))
        newest = "epoch: 1, batch: 75"
        await wait_for(pilot, lambda: any(newest in line for line in log.lines), what="the newest line")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y and newest in screen_text(app),
                       "the log still follows its end", now=lambda: (log.scroll_y, log.max_scroll_y))


@pytest.mark.anyio
@pytest.mark.parametrize("end, status", [("done", 0), ("stopped", 130), ("diverged", 3), ("error", 1), (None, 1)])
async def test_the_apps_exit_status_follows_the_runs_end(tmp_path, end, status):
    """docs/usage.md's table, the app's column: q on an ended run (None: its trainer crashed)."""
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    if end is not None:
        trainer.finish(end)
    trainer.exit()
    app = viewer(trainer)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: run_screen(app).status.ended, what="the end seen")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert app.return_code == status


@pytest.mark.anyio
async def test_the_run_view_shows_its_settings_on_one_line_and_i_expands_them(tmp_path):
    app = viewer(ScriptedTrainer(tmp_path, fixed_events()))
    async with app.run_test(size=(80, 24)) as pilot:
        settings = run_screen(app).query_one("#settings", Static)
        await wait_for(pilot, lambda: "batch 64" in text_of(settings), what="the settings line")
        assert settings.size.height == 1 and text_of(settings).endswith("i: all")
        await pilot.press("i")
        await wait_for(pilot, lambda: "stats_every=100" in text_of(settings) and settings.size.height >= 2, "all settings")
        await pilot.press("i")
        await wait_for(pilot, lambda: settings.size.height == 1 and "stats_every" not in text_of(settings), "one line again")
