"""The live app with Pilot on a real MNIST subset: keys, tables, snapshots, validation, pause, quit,
errors and resizing; plus the pure history and state logic it draws from."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
from rich.text import Text
from textual.widgets import Static, TabbedContent

from mnist_tui.config import TrainConfig
from mnist_tui.engine import events as ev
from mnist_tui.engine.session import Session
from mnist_tui.tui.app import MnistApp, clock
from mnist_tui.tui.confirm_screen import ConfirmQuit
from mnist_tui.tui.help_screen import HelpScreen
from mnist_tui.tui.history import History, Window, smooth
from mnist_tui.tui.key_bar import KeyBar
from mnist_tui.tui.layers_tab import LayersTab
from mnist_tui.tui.live_figures import LiveFigures, bar_levels, bar_rows
from mnist_tui.tui.snapshot_screen import SnapshotScreen, heatmap
from mnist_tui.tui.state import RunState
from mnist_tui.tui.validation_tab import ValidationTab

SMALL = TrainConfig(epochs=2, train_limit=640, val_limit=200, test_limit=200, seed=1)
LONG = SMALL.with_(epochs=20)  # long enough that a test can act on it while it trains


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def wait_for(pilot, condition, timeout: float = 60.0, what: str = "condition"):
    """Poll the app (letting it run) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s: {pilot.app.state.status} {pilot.app.state.step} "
                                 f"{pilot.app.trainer} {pilot.app.worker.state} {pilot.app.state.error}")
        await pilot.pause(0.1)


async def wait_for_exit(pilot, app: MnistApp) -> None:
    """After a quit: the worker ends, then the app exits with its return code."""
    await wait_for(pilot, lambda: not app.training, timeout=10, what="worker ended")
    await wait_for(pilot, lambda: app.return_code is not None, timeout=5, what="the app exits")


def text_of(widget: Static) -> str:
    return str(widget.render())


async def pause_training(pilot, app: MnistApp) -> int:
    """Let a few batches run, press p, wait until the trainer waits; return the step shown."""
    await wait_for(pilot, lambda: app.trainer is not None and app.state.step >= 3, what="a few batches")
    await pilot.press("p")
    await wait_for(pilot, lambda: app.state.status == "paused", what="paused")
    await pilot.pause(0.3)
    return app.state.step


def assert_stopped_cleanly(app: MnistApp, session: Session) -> None:
    """Exit status 0, a checkpoint, and an event log that ends with the stop."""
    assert app.return_code == 0
    session.close()
    assert list(session.run.checkpoints.glob("step-*.pdparams"))
    last = json.loads(session.run.events_path.read_text().splitlines()[-1])
    assert (last["type"], last["status"]) == ("Finished", "stopped")


@pytest.mark.anyio
async def test_keys_switch_tabs_and_help(tmp_path):
    app = MnistApp(Session.new(SMALL, tmp_path), start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "training"
        for key, tab in (("2", "layers"), ("3", "validation"), ("1", "training"), ("tab", "layers"),
                         ("tab", "validation"), ("tab", "training"), ("shift+tab", "validation")):
            await pilot.press(key)
            assert tabs.active == tab, key
        keys = app.query_one(KeyBar)
        for key, shown, hidden in (("1", "+/- Smooth", "r Stats"), ("2", "r Stats", "+/- Smooth"),
                                   ("3", "v Validate", "r Stats")):
            await pilot.press(key)
            await pilot.pause()
            assert shown in text_of(keys) and hidden not in text_of(keys), key  # the key bar follows the tab
        assert "No evaluation yet" in text_of(app.query_one("#diagnosis", Static))  # before the first one, too
        await pilot.click(KeyBar, offset=(text_of(keys).index("? Help"), 0))  # its keys can be clicked too
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Ctrl+C" in text_of(app.screen.query_one(Static))
        await pilot.pause()
        box = app.screen.query_one("#help-box").size
        assert box.width >= 70 and box.height >= 15, f"the help is drawn, not an empty box ({box})"
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.anyio
async def test_layers_table_shows_output_shapes(tmp_path):
    app = MnistApp(Session.new(SMALL, tmp_path), start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        tab = app.query_one(LayersTab)
        await wait_for(pilot, lambda: len(tab.structure) == 8, what="layer rows")
        await pilot.press("2")
        assert tab.cell("structure", "conv1", "output shape") == "[64, 20, 28, 28]"
        assert tab.cell("structure", "fc", "output shape") == "[64, 10]"
        assert tab.cell("structure", "conv2", "param shape") == "[20,20,5,5]+[20]"
        lines = text_of(app.query_one("#structure-table", Static)).splitlines()
        assert lines[0].split() == ["layer", "type", "hyper", "param", "shape", "output", "shape", "params"]
        assert [line.split()[0] for line in lines[1:]] == [
            "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc"]
        assert "[64, 20, 28, 28]" in lines[1]


@pytest.mark.anyio
async def test_snapshot_kernel_equals_model_weights(tmp_path):
    session = Session.new(LONG, tmp_path)
    app = MnistApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pause_training(pilot, app)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen) and app.screen.query("#conv1-kernel")
                       and "conv1" in text_of(app.screen.query_one("#conv1-kernel", Static)), what="snapshot view")
        snap = app.state.snapshots[-1]
        shown = text_of(app.screen.query_one("#conv1-kernel", Static)).splitlines()[1:]
        # The model lives in the training process: a checkpoint taken while still paused holds it.
        saved = app.state.checkpoints  # an epoch end may have saved one already (small epochs)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: app.state.checkpoints > saved, what="a checkpoint")
        params = max(session.run.checkpoints.glob("step-*.pdparams"))  # the newest: names are zero-padded steps
        weights = paddle.load(str(params))["conv1.weight"].numpy()[0, 0]
        assert weights.shape == (5, 5)
        assert np.allclose(np.array(snap.conv1_kernel), weights, atol=1e-6)
        assert [[float(v) for v in line.split()] for line in shown] == \
            [[round(float(v), 3) for v in row] for row in weights]
        saved = np.load(snap.path)
        assert np.allclose(saved["conv1_weight"][0, 0], weights) and snap.path.startswith(str(session.run.snapshots))
        await pilot.press("2", "o")
        await pilot.press("enter")
        assert isinstance(app.screen, SnapshotScreen) and app.screen.index == 0


@pytest.mark.anyio
async def test_refresh_while_paused_changes_taken_at(tmp_path):
    app = MnistApp(Session.new(LONG, tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pause_training(pilot, app)
        # Statistics also come on their own (first batch, evaluations): wait for those of the paused batch.
        await pilot.press("2", "r")
        await wait_for(pilot, lambda: app.state.layer_stats is not None and app.state.layer_stats.step == app.state.step,
                       what="first statistics")
        first = app.state.layer_stats
        label = app.query_one("#taken-at", Static)
        await wait_for(pilot, lambda: f"batch {first.batch} " in text_of(label), what="first label")
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.step >= first.step + 3, what="more batches")
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.status == "paused", what="paused again")
        await pilot.press("r")
        await wait_for(pilot, lambda: app.state.layer_stats.step == app.state.step > first.step,
                       what="second statistics")
        second = app.state.layer_stats
        assert second.step > first.step
        await wait_for(pilot, lambda: f"batch {second.batch} " in text_of(label), what="second label")
        tab = app.query_one(LayersTab)
        assert tab.cell("stats", "conv1", "grad norm") != "-" or second.layers[0]["grad_norm"] is None
        assert float(tab.cell("stats", "relu1", "min")) >= 0
        relu1 = next(line for line in text_of(app.query_one("#stats-table", Static)).splitlines() if "relu1" in line)
        assert relu1.split()[1:3] == [tab.cell("stats", "relu1", "mean"), tab.cell("stats", "relu1", "std")]


@pytest.mark.anyio
async def test_validation_row_gap_is_train_minus_val(tmp_path):
    app = MnistApp(Session.new(SMALL, tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.evals, what="an evaluation")
        await pilot.press("3")
        tab = app.query_one(ValidationTab)
        await wait_for(pilot, lambda: tab.rows, what="a row")
        lines = text_of(app.query_one("#eval-table", Static)).splitlines()
        assert lines[0].split() == ["at", "run", "loss", "run", "acc", "train", "loss", "train", "acc", "val", "loss",
                                    "val", "acc", "gap"]
        row = dict(zip(("at", "rl", "ra", "tl", "ta", "vl", "va", "gap"), tab.rows[0]))
        assert lines[1].split()[2:] == list(tab.rows[0][1:])  # as shown
        e = app.state.evals[0]
        assert row["at"] == f"e0 b{e.batch}" and float(row["gap"]) == pytest.approx(100 * e.gap, abs=0.006)
        shown_gap = float(row["ta"]) - float(row["va"])
        assert float(row["gap"]) == pytest.approx(shown_gap, abs=0.011)
        assert float(row["ra"]) == pytest.approx(100 * e.running_acc, abs=0.006)  # the running figure apart
        diagnosis = text_of(app.query_one("#diagnosis", Static))
        assert diagnosis.startswith(e.diagnosis)
        await wait_for(pilot, lambda: app.state.test is not None, what="test accuracy")
        await pilot.pause(0.2)
        assert f"{100 * app.state.test.acc:.2f}%" in text_of(app.query_one("#test-result", Static))


@pytest.mark.anyio
async def test_p_stops_and_restarts_the_batch_counter(tmp_path):
    app = MnistApp(Session.new(LONG, tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        step = await pause_training(pilot, app)
        header = app.query_one("#header", Static)
        shown = text_of(header)
        await pilot.pause(1.0)
        assert app.state.step == step and app.trainer.step == step + 1
        assert text_of(header) == shown and "paused" in shown
        state, figures = app.state, app.query_one(LiveFigures)
        loss_row, acc_row, progress = (figures.render_line(y).text for y in range(3))
        assert loss_row.startswith("loss") and f"now {state.loss_window.current:.4f}" in loss_row
        assert f"best {state.best_acc:.3f}" in acc_row
        assert f"{round(100 * (state.batch + 1) / state.bpe)}%" in progress.split("run")[0]
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.step > step + 2, what="training again")


@pytest.mark.anyio
async def test_header_fits_80_columns_with_the_eta(tmp_path):
    """A full-size run at 12,345 images/s: at 80 columns the elapsed time makes way for the ETA."""
    run = ev.RunStarted("run", "CPU ×2 (auto: no CUDA GPU visible)", {"batch_size": 64}, 5, 781, 50_000, 10_000, [])
    events = [run, ev.StatusChanged("running"), ev.BatchMetrics(0, 243, 243, 0.5, 0.9, 12345.0, 75.0)]
    for width, elapsed_shown in ((80, False), (160, True)):
        app = MnistApp(Session.new(SMALL, tmp_path / str(width)), start_paused=True)
        async with app.run_test(size=(width, 24)):
            app.state = RunState()
            app.state.apply(events)
            header = str(Text.from_markup(app._header_text()))
        assert len(header) <= width - 2 and "batch 244/781" in header and "12345 img/s" in header
        assert header.endswith(f"ETA {clock(app.state.eta_s())}")
        assert ("1:15" in header) == elapsed_shown


@pytest.mark.anyio
async def test_confirmed_quit_leaves_checkpoint_and_complete_events(tmp_path):
    session = Session.new(LONG, tmp_path)
    app = MnistApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.step >= 3, what="a few batches")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmQuit) and app.training
        await pilot.press("q", "y")
        await wait_for_exit(pilot, app)
    assert_stopped_cleanly(app, session)


@pytest.mark.anyio
async def test_worker_exception_shows_error_panel_and_keys_work(tmp_path, monkeypatch):
    from mnist_tui.engine.worker import FAULT_ENV

    monkeypatch.setenv(FAULT_ENV, "injected failure")  # the training process raises it
    session = Session.new(SMALL, tmp_path)
    app = MnistApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one("#error-panel", Static)
        await wait_for(pilot, lambda: panel.has_class("-shown"), what="error panel")
        assert "injected failure" in text_of(panel) and str(session.run.log_path) in text_of(panel)
        assert panel.display
        await pilot.press("2")
        assert app.query_one(TabbedContent).active == "layers"
        await pilot.press("q")  # training is over: no confirmation
        await wait_for_exit(pilot, app)
    assert app.return_code == 1
    assert "RuntimeError: injected failure" in session.run.log_path.read_text()


@pytest.mark.anyio
async def test_small_terminal_shows_notice_and_resizing_survives(tmp_path):
    app = MnistApp(Session.new(SMALL, tmp_path), start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        notice = app.query_one("#too-small", Static)
        assert not notice.display
        for size in ((200, 50), (40, 12), (80, 24), (40, 12)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
        assert app.has_class("-too-small") and notice.display
        assert "Enlarge the terminal" in text_of(notice) and not app.query_one("#main").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        assert not notice.display and app.query_one("#main").display


def test_app_module_does_not_import_paddle():
    code = "import sys, mnist_tui.tui.app; print('paddle' in sys.modules, 'mnist_tui.engine.trainer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- pure logic ----
def test_history_stays_bounded_and_keeps_the_shape():
    history = History(max_points=100)
    for i in range(100_000):
        history.add(i, float(i))
    xs, ys = history.points()
    assert 50 <= len(xs) <= 101 and history.count == 100_000
    assert xs[0] < 1000 and xs[-1] > 99_000  # still spans the whole run
    assert all(abs(x - y) < 1e-6 for x, y in zip(xs, ys))  # means of x and y move together


def test_history_marks_non_finite_points_apart():
    history = History(max_points=10)
    for i, v in enumerate([1.0, float("nan"), 2.0, float("inf")]):
        history.add(i, v)
    assert list(history.nonfinite_xs) == [1, 3]
    assert history.points()[1] == [1.0, 2.0]


def test_smoothing_is_debiased():
    assert smooth([5.0] * 20, 0.9) == pytest.approx([5.0] * 20)  # no pull towards 0 at the start
    assert smooth([1.0, 3.0], 0.0) == [1.0, 3.0]
    smoothed = smooth([0.0] * 10 + [10.0] * 10, 0.5)
    assert smoothed[9] == 0 and 5 <= smoothed[10] <= 10 and smoothed[-1] > 9.9


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
    assert state.diagnosis() == "Fine: a (epoch 0, batch 10)"
    state.apply([ev.EvalResult("val", 1, 10, 20, 0.3, 0.90, 0.2, 0.95, 0.1, 0.97, 1000, 1000, "over-fitting",
                               "Over-fitting: b")])
    assert state.diagnosis() == "Over-fitting: b (epoch 1, batch 10)"
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
    assert len(state.loss_window.values) == 50 and len(state.loss_history.xs) <= 100
    assert len(state.log_lines) == 500  # bounded: the oldest lines went
    assert state.log_lines[-1] == "epoch: 0, batch: 8, loss is: [0.000050], acc is [0.500000]"  # step 19998


def test_heatmap_reads_without_colour():
    grid = [[0.0, 1.0], [0.0, 1.0], [0.5, 0.5], [0.5, 0.5]]
    plain = heatmap(grid, colour=False).plain.splitlines()
    assert plain == [" █", "▒▒"]
    assert set(heatmap(grid, colour=True).plain.replace("\n", "")) == {"▀"}


@pytest.mark.anyio
async def test_resumed_run_shows_the_whole_history(tmp_path):
    first = Session.new(LONG, tmp_path)
    app = MnistApp(first)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.step >= 12, what="a dozen batches")
        await pilot.press("c")  # checkpoint now
        await wait_for(pilot, lambda: app.state.checkpoints >= 1, what="a checkpoint")
        await pilot.press("q", "y")
        await wait_for(pilot, lambda: not app.training, timeout=10, what="worker ended")
    first.close()
    resumed = Session.resume(first.run.path)
    app = MnistApp(resumed, start_paused=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.status == "paused", what="resumed, paused")
        assert app.state.loss_history.count >= 12, "batches from before the resume are charted"
        assert app.state.step >= 11
    resumed.close()


@pytest.mark.anyio
async def test_divergence_pauses_with_an_alert_and_exits_3(tmp_path):
    cfg = LONG.with_(lr=1e4, optimizer="sgd", schedule="constant")
    app = MnistApp(Session.new(cfg, tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.status == "paused", what="paused on divergence")
        assert app.state.last_alert.message.startswith("training diverged at epoch")
        assert "loss exploded" in app.state.last_alert.message or "non-finite loss" in app.state.last_alert.message
        step = app.trainer.step
        await pilot.pause(0.5)
        assert app.trainer.step == step, "training waits instead of going on with NaN weights"
        await pilot.press("q", "y")
        await wait_for_exit(pilot, app)
    assert app.return_code == 3, (app.final_status, app.trainer.status)
    assert not list(app.session.run.checkpoints.glob("*.pdparams"))


@pytest.mark.anyio
async def test_gpu_without_cuda_exits_2_with_one_line(tmp_path):
    import paddle

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this Paddle has CUDA")
    app = MnistApp(Session.new(SMALL.with_(device="gpu"), tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.return_code is not None, what="the app exits on the usage error")
    assert app.return_code == 2
    assert "--device gpu: this Paddle build has no CUDA" in app.setup_error


@pytest.mark.anyio
async def test_sigterm_quits_with_a_checkpoint_within_two_seconds(tmp_path):
    import os
    import signal

    session = Session.new(LONG, tmp_path)
    app = MnistApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.step >= 3, what="a few batches")
        start = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await wait_for(pilot, lambda: not app.training, timeout=10, what="worker ended")
        assert time.monotonic() - start < 2.0
        await wait_for(pilot, lambda: app.return_code is not None, timeout=5, what="the app exits")
    assert_stopped_cleanly(app, session)


@pytest.mark.anyio
async def test_ctrl_c_quits_at_once_with_a_checkpoint(tmp_path):
    session = Session.new(LONG, tmp_path)
    app = MnistApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.step >= 3, what="a few batches")
        await pilot.press("ctrl+c")
        assert not isinstance(app.screen, ConfirmQuit), "Ctrl+C does not ask"
        await wait_for_exit(pilot, app)
    assert_stopped_cleanly(app, session)


def notified(app: MnistApp) -> str:
    return "\n".join(n.message for n in app._notifications)


@pytest.mark.anyio
async def test_finished_run_stays_inspectable_and_keys_say_why(tmp_path):
    app = MnistApp(Session.new(SMALL.with_(epochs=1), tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.state.finished is not None, what="the run finished")
        await pilot.press("2")
        tab = app.query_one(LayersTab)
        # Never empty: statistics came with the first batch and the evaluation, with no key pressed.
        await wait_for(pilot, lambda: tab.cell("stats", "conv1", "mean") != "-", what="statistics shown")
        taken = len(app.state.stats_history)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.state.stats_history) > taken, what="r on the final model")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen) and app.screen.query("#conv1-kernel")
                       and "conv1" in text_of(app.screen.query_one("#conv1-kernel", Static)), what="snapshot view")
        await pilot.press("escape")
        evals = len(app.state.evals)
        await pilot.press("v")
        await wait_for(pilot, lambda: len(app.state.evals) > evals, what="v on the final model")
        for key in ("p", "c", "a"):
            await pilot.press(key)
        await wait_for(pilot, lambda: notified(app).count("Training has ended (done)") == 3, what="p, c, a say why")
        await pilot.press("q")
        await wait_for_exit(pilot, app)
    assert app.return_code == 0
    kinds = [json.loads(line)["type"] for line in app.session.run.events_path.read_text().splitlines()]
    assert kinds.index("Finished") < len(kinds) - 1 and "SnapshotTaken" in kinds[kinds.index("Finished"):]


@pytest.mark.anyio
async def test_keys_that_cannot_act_say_why_with_scripted_events(tmp_path):
    """No Paddle: the worker holds the scripted events back until the test lets them go."""
    import threading

    from test_app_snapshots import fixed_events
    from textual import work

    from mnist_tui.engine.rundir import RunDir

    release = threading.Event()

    class HeldApp(MnistApp):
        @work(thread=True)
        def _train(self) -> None:
            release.wait(30)
            for event in fixed_events():
                self.session.bus.emit(event)

    app = HeldApp(Session(SMALL, RunDir.create(tmp_path, "held")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "a")
        await wait_for(pilot, lambda: "Training is starting" in notified(app), what="a says why before the start")
        release.set()
        await wait_for(pilot, lambda: app.state.started is not None and app.state.mistakes is not None,
                       what="the scripted events")
        await wait_for(pilot, lambda: "auto every 100 batches" in text_of(app.query_one("#taken-at", Static)),
                       what="the engine's setting shown")
        for _ in range(8):
            await pilot.press("plus")
        assert "Smoothing is already at its most" in notified(app)
        await pilot.press("m")
        assert "Health map (Layers tab): activation std" in notified(app)
        await pilot.press("3")
        await wait_for(pilot, lambda: "Confusion matrix" in text_of(app.query_one("#mistakes-title", Static)),
                       what="the confusion matrix panel")
        assert "4 → 9" in text_of(app.query_one("#confused-pairs", Static))
