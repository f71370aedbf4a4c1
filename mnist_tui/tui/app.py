"""The live app: a thin App that owns the training worker and redraws from drained events.

A thread worker starts the training process and relays its events (Paddle is imported in that
process, so the first frame never waits for it). A queue holds them until a frame (4 a second)
folds them into `RunState` and redraws only what changed, inside one `batch_update`. The plotext
charts are rebuilt on a slower timer, and only when visible.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from ..config import AUTO_STATS_EVERY
from ..engine.events import ErrorRaised
from .charts import HistoryChart, ValidationChart
from .confirm_screen import ConfirmQuit
from .help_screen import HelpScreen
from .history import SMOOTHING_LEVELS
from .key_bar import KeyBar
from .layers_tab import HealthMap, LayersTab
from .snapshot_screen import SnapshotPicker, SnapshotScreen
from .state import RunState
from .training_tab import TrainingTab
from .validation_tab import ValidationTab

# At most 4 redraws a second, however fast batches come; keys are handled at once, not on frames.
# Training now uses every core, so the UI's frames are taken from it: on the Training tab, 4 frames
# a second take ~3% of a core at 80x24 and ~5% at 120x40 (BENCHMARKS.md; 10 took ~20%).
FRAME_S = 1 / 4
CHART_S = 5.0  # plotext rebuilds the whole figure (~50 ms at 120x40): every 5 s is plenty for a whole-run history
MIN_SIZE = (60, 20)
TABS = ("training", "layers", "validation")
ACTIVE = ("starting", "resumed", "running", "paused", "validating", "testing")
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_DIVERGED = 0, 1, 2, 3


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:d}:{rest % 60:02d}"


class MnistApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "mnist-tui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar = [
        Binding("1", "show_tab('training')", "Training", show=False),
        Binding("2", "show_tab('layers')", "Layers", show=False),
        Binding("3", "show_tab('validation')", "Validation", show=False),
        Binding("tab", "cycle_tab(1)", "Next tab", show=False, priority=True),
        Binding("shift+tab", "cycle_tab(-1)", "Previous tab", show=False, priority=True),
        Binding("p", "pause", "Pause"),
        Binding("s", "snapshot", "Snapshot"),
        Binding("v", "validate", "Validate"),
        Binding("c", "checkpoint", "Checkpoint"),
        # Keys of one tab: shown in the footer on that tab (t_*), working everywhere (the hidden twin).
        Binding("plus", "t_smoothing(1)", "Smooth", key_display="+/-"),
        Binding("minus", "t_smoothing(-1)", "Smooth-", show=False),
        Binding("l", "t_log_scale", "Log loss"),
        Binding("r", "t_refresh_stats", "Stats"),
        Binding("a", "t_auto_stats", "Auto"),
        Binding("o", "t_open_snapshot", "List"),
        Binding("m", "t_health_metric", "Map figure"),
        Binding("plus,equals_sign", "smoothing(1)", show=False),
        Binding("minus", "smoothing(-1)", show=False),
        Binding("l", "log_scale", show=False),
        Binding("r", "refresh_stats", show=False),
        Binding("a", "auto_stats", show=False),
        Binding("o", "open_snapshot", show=False),
        Binding("m", "health_metric", show=False),
        Binding("x", "hide_error", "Hide error", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "quit_now", "Quit", show=False, priority=True),
    ]
    TAB_ACTIONS: ClassVar = {"t_smoothing": "training", "t_log_scale": "training", "t_refresh_stats": "layers",
                             "t_auto_stats": "layers", "t_open_snapshot": "layers", "t_health_metric": "layers"}

    def __init__(self, session, start_paused: bool = False) -> None:
        super().__init__()
        # No animations: the tab underline's slide alone repainted the screen ~20 times per switch,
        # on the cores training uses.
        self.animation_level = "none"
        self.session = session
        self.start_paused = start_paused
        self.state = RunState()
        self.setup_error: str | None = None
        self.final_status: str | None = None
        self.smoothing = 3
        self.log_loss = False
        self.auto_every: int | None = None  # as the trainer has it: from the run's settings, then `a`
        self._open_next_snapshot = False
        self._quitting = False
        self._stop_requested = False
        self._charts_dirty = {"history-chart", "validation-chart"}
        self.worker = None

    # ---- layout ----
    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), id="header")
        with Vertical(id="main"):
            yield Static(id="error-panel")
            with TabbedContent(id="tabs", initial="training"):
                with TabPane("1 Training", id="training"):
                    yield TrainingTab()
                with TabPane("2 Layers", id="layers"):
                    yield LayersTab()
                with TabPane("3 Validation", id="validation"):
                    yield ValidationTab()
        yield Static("", classes="too-small-notice", id="too-small")
        yield KeyBar()

    def on_mount(self) -> None:
        self.queue = self.session.subscribe_queue()
        self._header = self.query_one("#header", Static)
        self._fit(self.size.width, self.size.height)
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(CHART_S, self._replot)
        self.worker = self._train()
        # SIGTERM (e.g. a scheduler ending the job) quits like a confirmed q: checkpoint, flush, exit.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.action_quit_now)

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(small, "-too-small")
        self.set_class(height >= 40, "-tall")
        self.state.dirty.add("header")
        self.query_one("#too-small", Static).update(
            f"Enlarge the terminal to at least {MIN_SIZE[0]}x{MIN_SIZE[1]}\n(now {width}x{height}).\n"
            "Training goes on; q quits.")

    # ---- the worker ----
    @work(thread=True, exclusive=True, name="trainer")
    def _train(self) -> None:
        """Start the training process and forward its events to the session's bus until it ends.

        Paddle is imported and the data loaded in that process, so neither delays this one; a
        resumed run's history arrives through the queue first (Session.subscribe_queue replays it).
        """
        session = self.session
        try:
            trainer = session.start_process(pause_on_divergence=True, start_paused=self.start_paused)
        except Exception as exc:  # noqa: BLE001 - shown in the error panel, the app stays usable
            session.bus.emit(ErrorRaised(f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                                         str(session.run.log_path)))
            self.final_status = "error"
            return
        if self._stop_requested:
            trainer.stop()
        self.final_status = trainer.run_until_done(session.bus.emit)
        if trainer.usage_error:
            self.setup_error = trainer.usage_error
            self.call_from_thread(self.exit, return_code=EXIT_USAGE)

    @property
    def trainer(self):
        return self.session.trainer

    @property
    def training(self) -> bool:
        """True while the worker may still train (so quitting must stop it first)."""
        return self.worker is not None and not self.worker.is_finished

    # ---- frames ----
    def _frame(self) -> None:
        """Drain the engine's events and redraw what changed; the only regular UI work."""
        events = self.queue.drain()
        state = self.state
        if events:
            state.apply(events)
        if events and state.started and self.auto_every is None:
            self.auto_every = state.started.config.get("stats_every", 0)
        if self._quitting and not self.training:
            self.exit(return_code=self.exit_status())
            return
        dirty, state.dirty = state.dirty, set()
        if not dirty or not self._header.is_attached:  # nothing new, or the app is closing (widgets gone)
            return
        with self.batch_update():
            if "header" in dirty:
                # Fixed size (one docked line): a repaint is enough, no layout pass for the whole screen.
                self._header.update(self._header_text(), layout=False)
            if "metrics" in dirty:
                self.query_one(TrainingTab).show_metrics(state)
                self._charts_dirty.add("history-chart")
            if "log" in dirty:
                self.query_one(TrainingTab).write_log(state.new_log_lines)
                state.new_log_lines = []
            if "layers" in dirty:
                self.query_one(LayersTab).show(state, self.auto_every)
            if "evals" in dirty:
                self.query_one(ValidationTab).show(state)
                self._charts_dirty.add("validation-chart")
            if "mistakes" in dirty:
                self.query_one(ValidationTab).show_mistakes(state)
            if "snapshots" in dirty:
                self.query_one(LayersTab).show(state, self.auto_every)
                if self._open_next_snapshot and state.new_snapshot is not None:
                    self._open_next_snapshot = False
                    self._open_snapshot(len(state.snapshots) - 1)
            if "alert" in dirty:
                self.notify(state.last_alert.message, severity=state.last_alert.level, timeout=20)
            if "error" in dirty:
                self._show_error()

    def _replot(self) -> None:
        hidden = self.has_class("-too-small") or len(self.screen_stack) > 1
        if not self._charts_dirty or hidden or not self._header.is_attached:  # not attached: the app is closing
            return
        active = self.query_one(TabbedContent).active
        if active == "training" and "history-chart" in self._charts_dirty:
            self.query_one(HistoryChart).replot(self.state, SMOOTHING_LEVELS[self.smoothing], self.log_loss)
            self._charts_dirty.discard("history-chart")
        if active == "validation" and "validation-chart" in self._charts_dirty:
            self.query_one(ValidationChart).replot(self.state)
            self._charts_dirty.discard("validation-chart")

    def _header_text(self) -> str:
        s = self.state
        status = "stopping" if self._quitting and self.training else s.status
        colour = {"running": "green", "paused": "yellow", "done": "cyan", "error": "red", "diverged": "red",
                  "stopping": "yellow"}.get(status, "default")
        device = s.started.device if s.started else "…"
        # The rest of the header takes ~100 columns; a device that does not fit beside it is shortened:
        # "CPU ×2 (auto: …)" → "CPU ×2"; "gpu:0 (NVIDIA …)" → the name. The log line has it in full.
        if "(" in device and len(device) > self.size.width - 100:
            cpu = device.startswith("CPU")
            device = device[: device.index("(")].strip() if cpu else device[device.index("(") + 1 :].rstrip(")")[:24]
        parts = [f"[b]{self.session.run.name}[/b]", device, f"[{colour}]{status}[/]"]
        if s.started:
            parts += [f"epoch {min(s.epoch + 1, s.epochs)}/{s.epochs}", f"batch {s.batch + 1}/{s.bpe}",
                      f"{s.images_per_s:.0f} img/s", clock(s.elapsed_s), f"ETA {clock(s.eta_s())}"]
        else:
            parts.append("loading data and Paddle…")
        sep = " │ " if self.size.width >= 100 else "│"
        if s.started and Text.from_markup(sep.join(parts)).cell_len > self.size.width - 2:  # 2: the padding
            del parts[-2]  # a narrow terminal or a fast device: the elapsed time goes, the ETA stays
        return sep.join(parts)

    def _show_error(self) -> None:
        error = self.state.error
        panel = self.query_one("#error-panel", Static)
        panel.update(f"[b]Training failed:[/b] {error.message}\nTraceback in {error.log_path}\n"
                     "The tabs stay usable; q quits (exit status 1), x hides this panel.")
        panel.add_class("-shown")

    def _open_snapshot(self, index: int) -> None:
        if isinstance(self.screen, SnapshotScreen):
            self.pop_screen()
        self.push_screen(SnapshotScreen(self.state.snapshots, index))

    def exit_status(self) -> int:
        if self.state.error or self.final_status == "error":
            return EXIT_ERROR
        if self.final_status == "diverged":
            return EXIT_DIVERGED
        return EXIT_OK

    # ---- actions ----
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        tab = self.TAB_ACTIONS.get(action)
        return tab is None or (len(self.screen_stack) == 1 and self.query_one(TabbedContent).active == tab)

    def action_t_smoothing(self, delta: int) -> None:
        self.action_smoothing(delta)

    def action_t_log_scale(self) -> None:
        self.action_log_scale()

    def action_t_refresh_stats(self) -> None:
        self.action_refresh_stats()

    def action_t_auto_stats(self) -> None:
        self.action_auto_stats()

    def action_t_open_snapshot(self) -> None:
        self.action_open_snapshot()

    def action_t_health_metric(self) -> None:
        self.action_health_metric()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        """Focus the tab's main widget (its keys then work at once) and redraw its chart once the
        tab is on screen (the chart shows its last figure meanwhile), so the switch itself stays quick."""
        tab = {"training": TrainingTab, "layers": LayersTab, "validation": ValidationTab}[self.query_one(TabbedContent).active]
        self.query_one(tab).focus_main()
        self.refresh_bindings()
        self.call_after_refresh(self._replot)

    def action_show_tab(self, tab: str) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
        self.query_one(TabbedContent).active = tab

    def action_cycle_tab(self, delta: int) -> None:
        if len(self.screen_stack) > 1:
            return
        tabs = self.query_one(TabbedContent)
        tabs.active = TABS[(TABS.index(tabs.active) + delta) % len(TABS)]

    def _control(self, method: str, message: str, after_end: str = "") -> None:
        """Send a control to the trainer, or say on screen why it cannot act. `after_end` names
        what makes no sense once training has ended (r, s and v still work then)."""
        finished = self.state.finished
        if self.trainer is None and self.training:
            why = "Training is starting (loading data and Paddle): try again in a moment."
        elif not self.training:
            why = "The training process has ended: nothing can act on the model any more."
        elif finished is not None and after_end:
            why = f"Training has ended ({finished.status}): {after_end}. r, s and v still work on the final model."
        else:
            getattr(self.trainer, method)()
            if message:
                self.notify(message, timeout=2)
            return
        self.notify(why, severity="warning", timeout=4)

    def action_pause(self) -> None:
        self._control("toggle_pause", "", "nothing to pause")

    def action_snapshot(self) -> None:
        self._open_next_snapshot = True
        self._control("request_snapshot", f"Snapshot {self._when()}…")

    def action_refresh_stats(self) -> None:
        self._control("request_layer_stats", f"Layer statistics {self._when()}…")

    def _when(self) -> str:
        return "of the final model" if self.state.finished is not None else "at the next batch"

    def action_validate(self) -> None:
        self._control("request_validation", "Validating…")

    def action_checkpoint(self) -> None:
        self._control("request_checkpoint", "Checkpoint at the next batch…",
                      "no checkpoint to take, the final weights are in model.pdparams")

    def action_auto_stats(self) -> None:
        if self.state.started is None and self.training:
            # The engine's setting is only mirrored here once RunStarted has told it.
            self.notify("Training is starting (loading data and Paddle): try again in a moment.",
                        severity="warning", timeout=4)
            return
        if self.state.finished is not None or not self.training:
            self._control("toggle_auto_stats", "", "no more batches for automatic statistics")  # says why
            return
        every = self.state.started.config.get("stats_every") or AUTO_STATS_EVERY
        self.auto_every = 0 if self.auto_every else every
        self._control("toggle_auto_stats", f"Automatic layer statistics every {every} batches."
                      if self.auto_every else "Automatic layer statistics off.")
        self.state.dirty.add("layers")

    def action_health_metric(self) -> None:
        label = self.query_one(HealthMap).next_metric()
        self.notify(f"Health map (Layers tab): {label}", timeout=2)

    def action_open_snapshot(self) -> None:
        if not self.state.snapshots:
            self.notify("No snapshot yet: press s.", timeout=2)
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(SnapshotPicker(self.state.snapshots),
                         lambda index: self._open_snapshot(index) if index is not None else None)

    def action_smoothing(self, delta: int) -> None:
        wanted = self.smoothing + delta
        if not 0 <= wanted < len(SMOOTHING_LEVELS):
            self.notify(f"Smoothing is already at its {'most' if delta > 0 else 'least'} "
                        f"({SMOOTHING_LEVELS[self.smoothing]:g}).", timeout=2)
            return
        self.smoothing = wanted
        self._charts_dirty.add("history-chart")
        self._replot()

    def action_log_scale(self) -> None:
        self.log_loss = not self.log_loss
        self._charts_dirty.add("history-chart")
        self._replot()

    def action_hide_error(self) -> None:
        panel = self.query_one("#error-panel")
        if not panel.has_class("-shown"):
            self.notify("No error panel to hide.", timeout=2)
        panel.remove_class("-shown")

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.auto_every or AUTO_STATS_EVERY))

    def action_request_quit(self) -> None:
        if self._quitting:
            return
        if not self.training:
            self.exit(return_code=self.exit_status())
            return
        if self.state.finished is not None:  # training is over, the worker is only flushing: no question
            self.action_quit_now()
            return
        self.push_screen(ConfirmQuit(), lambda yes: self.action_quit_now() if yes else None)

    def action_quit_now(self) -> None:
        """Stop after the current batch (the trainer saves a checkpoint), then exit once the worker ends."""
        if self._quitting:
            return
        self._quitting = True
        self._stop_requested = True
        if self.trainer is not None:
            self.trainer.stop()
        self.state.dirty.add("header")
        if self.training:
            self.notify("Stopping after the current batch, saving a checkpoint…", timeout=10)

    def on_unmount(self) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        # However the app ends, the worker must not train on unseen.
        self._stop_requested = True
        if self.trainer is not None:
            self.trainer.stop()


def run_app(session, start_paused: bool = False, terminal=None) -> int:
    """Run the app on the real terminal (fd 2 already goes to the run's log) and return the exit status."""
    saved = sys.__stderr__
    if terminal is not None:
        sys.__stderr__ = terminal
    app = MnistApp(session, start_paused=start_paused)
    try:
        app.run()
    finally:
        sys.__stderr__ = saved
        deadline = time.monotonic() + 30
        while app.worker is not None and not app.worker.is_finished and time.monotonic() < deadline:
            time.sleep(0.05)
        session.close()
    if app.setup_error:
        print(f"mnist-tui: {app.setup_error}", file=terminal or sys.stderr)
        return EXIT_USAGE
    return app.exit_status()
