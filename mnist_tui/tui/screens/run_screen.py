"""One run, live or finished: header, the Training, Layers and Validation tabs, and the run's keys.

It reads the run folder through its RunController once a frame (4 a second), in a worker thread
(a slow or hung disk never holds the keys), folds the new events into `RunState` when the read
comes back and redraws only what changed, inside one `batch_update`; controls go out through
the same controller's thread: a key is answered "sent" at once, then with the trainer's answer
(a message from that thread), or shown as pending in the header while the trainer is slow to
answer. The plotext charts are rebuilt on a slower timer, and only when visible.

A long log is read in a worker thread: meanwhile the header shows the run's status and position
from the log's last lines, the tabs give way to how much is read, and keys work; the views are
drawn once the whole history is folded.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from mnist_tui.run import checkpoints
from mnist_tui.run.config import AUTO_STATS_EVERY
from mnist_tui.run.folder import RunDir
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.controller import STARTING_HINT, FolderRead, RunController
from mnist_tui.tui.history import SMOOTHING_LEVELS
from mnist_tui.tui.messages import RequestQuit, ShowTab, StopAndLeave
from mnist_tui.tui.screens.folder_read import OneRead
from mnist_tui.tui.screens.help_screen import HelpScreen
from mnist_tui.tui.screens.quit_screen import QuitChoice, QuitScreen
from mnist_tui.tui.screens.snapshot_screen import LayerPicker, SnapshotPicker, SnapshotScreen
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.charts import EvalChart, HistoryChart
from mnist_tui.tui.widgets.header import Field, fit_header, header_fields
from mnist_tui.tui.widgets.key_bar import KeyBar
from mnist_tui.tui.widgets.layers_tab import HealthMap, LayersTab
from mnist_tui.tui.widgets.run_settings import EXPAND_HINT, all_settings, settings_line
from mnist_tui.tui.widgets.training_tab import TrainingTab
from mnist_tui.tui.widgets.validation_tab import ValidationTab

# At most 4 redraws a second, however fast batches come; keys are handled at once, not on frames.
# Training uses every core, so the UI's frames are taken from it (BENCHMARKS.md has the cost).
FRAME_S = 1 / 4
HISTORY_IN_WORKER_BYTES = 1 << 20  # a longer log is read in a worker thread, the run on screen meanwhile
CHART_S = 5.0  # plotext rebuilds the whole figure: every 5 s is plenty for a whole-run history
TABS = ("training", "layers", "validation")
CONTROL_NAMES = {"toggle_pause": "p (pause/resume)", "request_snapshot": "s (snapshot)", "request_validation":
                 "v (validate)", "request_layer_stats": "r (statistics)", "request_checkpoint": "c (checkpoint)",
                 "toggle_auto_stats": "a (automatic statistics)", "stop": "stop"}


class ControlAnswered(Message):
    """The trainer's answer to a control (posted from the controller's thread)."""

    def __init__(self, command: str, why: str | None, done: str = "", then=None) -> None:
        super().__init__()
        self.command, self.why, self.done, self.then = command, why, done, then


class ControlLate(Message):
    """A control's answer is late: the trainer is busy or stopped by the OS."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command


class Polled(Message):
    """One frame's read of the run folder (posted from the reading thread)."""

    def __init__(self, read: FolderRead) -> None:
        super().__init__()
        self.read = read


class CrashAdvice(Message):
    """How to go on with a crashed run, once the folder has told (posted from a worker thread)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how


class RunScreen(Screen):
    BINDINGS: ClassVar = [
        Binding("tab", "cycle_tab(1)", "Next tab", show=False, priority=True),
        Binding("shift+tab", "cycle_tab(-1)", "Previous tab", show=False, priority=True),
        Binding("p", "pause", "Pause"),
        Binding("s", "snapshot", "Snapshot"),
        Binding("S", "pick_snapshot_layer", "Layer snapshot", show=False),
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
        Binding("i", "toggle_settings", "Settings", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
    ]
    TAB_ACTIONS: ClassVar = {"t_smoothing": "training", "t_log_scale": "training", "t_refresh_stats": "layers",
                             "t_auto_stats": "layers", "t_open_snapshot": "layers", "t_health_metric": "layers"}

    smoothing = var(3, init=False)
    """The loss chart's smoothing: an index into SMOOTHING_LEVELS (+ and -)."""
    log_loss = var(False, init=False)
    """The loss chart on a log scale (l)."""
    auto_every: var[int | None] = var(None, init=False)
    """Automatic layer statistics every so many batches, as the trainer has it: from the run's
    settings, then `a`; 0 off; None not known yet. The Layers tab shows it."""

    def __init__(self, controller: RunController) -> None:
        super().__init__()
        self.controller = controller
        self.state = RunState()
        self._open_next_snapshot = False
        self.snapshot_layer = ""  # picked with S; "": the first two convolutions
        self._shown_status: tuple[RunStatus, bool] | None = None
        self._last_tab = "training"
        self._starting_over = False  # a rewritten log is being read again
        self._charts_dirty = {"history-chart", "validation-chart"}
        self._late: str | None = None  # a control whose answer is late, shown in the header
        self._shown_refusal: str | None = None
        self.reading: float | None = None  # the fraction of a long history read so far, while a worker reads it
        self._newest: RunState | None = None  # what the log's last lines tell, shown while `reading`
        self._opened = False  # the first read has told whether the log is long (read apart) or not
        self._reads = OneRead(self, lambda: Polled(self.controller.read()), "poll")  # a frame's read
        self._leave_when_ended = False  # a stop asked for by quitting: the app leaves once it is carried out
        self._header_width: int | None = None  # the width the header was fitted to

    # ---- layout ----
    def compose(self) -> ComposeResult:
        yield Static("", id="header")
        with Vertical(id="main"):
            yield Static(id="settings")
            yield Static(id="error-panel")
            yield Static(id="reading-history")
            with TabbedContent(id="tabs", initial="training"):
                with TabPane("1 Training", id="training"):
                    yield TrainingTab()
                with TabPane("2 Layers", id="layers"):
                    yield LayersTab()
                with TabPane("3 Validation", id="validation"):
                    yield ValidationTab()
                with TabPane("4 Runs", id="runs"):  # a screen of its own (runs_screen.py): the tab opens it
                    yield Static("The runs table: press 4.", id="runs-placeholder")
        yield Static("", classes="too-small-notice", id="too-small")
        yield KeyBar()

    def on_mount(self) -> None:
        self._header = self.query_one("#header", Static)
        self.state.dirty |= {"header", "settings", "metrics", "log", "layers", "evals", "mistakes"}
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(CHART_S, self._replot)
        self.run_worker(self._open, thread=True, name="history")
        self.on_resize()

    def on_resize(self, _event=None) -> None:
        width, height = self.app.size
        self.query_one("#too-small", Static).update(
            f"Enlarge the terminal to at least 60x20\n(now {width}x{height}).\nTraining goes on; q quits.")

    @property
    def status(self) -> RunStatus:
        """The run's status; "starting" until the first read of its folder has come back."""
        return self.controller.status if self._opened else RunStatus.STARTING

    @property
    def stopping(self) -> bool:
        return self.controller.stop_sent and not self.status.ended and self.controller.alive

    # ---- frames ----
    def _open(self) -> None:
        """The worker of the first read: a long log's history is read apart (`_read_history`), a
        short one is read as every frame reads."""
        try:
            long_log = (self.controller.run_path / "events.jsonl").stat().st_size > HISTORY_IN_WORKER_BYTES
        except OSError:
            long_log = False
        if long_log:
            self.app.call_from_thread(self._show_reading, 0.0)
            self._read_history()
        else:
            self.post_message(Polled(self.controller.read()))

    def _frame(self) -> None:
        """Each frame: read what the trainer wrote since the last one, in a worker; `on_polled`
        draws it. While a read is still under way (a slow disk), what keys changed is drawn now."""
        if self._starting_over or self.reading is not None or not self._opened:
            return
        if not self._reads.start():
            self._draw()

    def on_polled(self, polled: Polled) -> None:
        self._reads.done()
        self._opened = True
        if self._starting_over or self.reading is not None:
            return
        events, restarted = self.controller.take(polled.read)
        if restarted:  # the run was resumed: its log starts again from its checkpoint
            self._starting_over = True
            self.call_next(self._start_over, events)
            return
        if events:
            self.state.apply(events)
        self._draw()

    def _draw(self) -> None:
        """Redraw what changed since the last frame (no I/O)."""
        state = self.state
        if state.started and self.auto_every is None:
            self.auto_every = state.started.config.get("stats_every", 0)
        if (self.status, self.controller.alive) != self._shown_status:
            self._shown_status = (self.status, self.controller.alive)
            state.dirty.add("header")
            self.refresh_bindings()  # the key bar shows the keys that can act in this state
            if self.status is RunStatus.CRASHED:
                self._show_crash()
        if self.controller.refused != self._shown_refusal:  # e.g. control.sock leads to another run
            self._shown_refusal = self.controller.refused
            if self._shown_refusal:
                self.app.notify(self._shown_refusal, severity="warning", timeout=8)
        if self._leave_when_ended and (self.status.ended or not self.controller.alive):
            self.app.leave()  # the stop asked for by quitting has been carried out
        if self.app.size.width != self._header_width:
            self._header_width = self.app.size.width
            state.dirty.add("header")
        dirty, state.dirty = state.dirty, set()
        if not dirty or not self._header.is_attached:  # nothing new, or the screen is closing
            return
        with self.app.batch_update():
            if "settings" in dirty:
                self._show_settings()
            if "header" in dirty:
                # Fixed size (one docked line): a repaint is enough, no layout pass for the whole screen.
                self._header.update(self._header_text(), layout=False)
            if "metrics" in dirty:
                self.query_one(TrainingTab).show_metrics(state)
                self._charts_dirty.add("history-chart")
            if "log" in dirty:
                self.query_one(TrainingTab).write_log(state.new_log_lines)
                state.new_log_lines = []
            if "layers" in dirty or "snapshots" in dirty:
                self.query_one(LayersTab).show(state, self.auto_every)
            if "evals" in dirty:
                self.query_one(ValidationTab).show(state, ended=self.status.ended)
                self._charts_dirty.add("validation-chart")
            if "mistakes" in dirty:
                self.query_one(ValidationTab).show_mistakes(state)
            if "snapshots" in dirty and self._open_next_snapshot and state.new_snapshot is not None:
                self._open_next_snapshot = False
                self._open_snapshot(len(state.snapshots) - 1)
            if "alert" in dirty:
                self.app.notify(state.last_alert.message, severity=state.last_alert.level, timeout=20)
            if "error" in dirty:
                self._show_error()

    def _read_history(self) -> None:
        """The worker: the log's last lines first (the header's figures), then the whole history,
        folded in a process of its own; the views get it once it is complete."""
        worker = get_current_worker()
        newest = RunState()
        newest.apply(self.controller.newest())
        self.app.call_from_thread(self._show_newest, newest)

        def progress(fraction: float) -> None:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._show_reading, fraction)

        folded = self.controller.read_history(progress)
        if not worker.is_cancelled and not self.controller.closed:
            # Failed (the process could not run): the frames read the log themselves, as for a short one.
            self.app.call_from_thread(self._history_read, folded or RunState())

    def _show_newest(self, newest: RunState) -> None:
        self._newest = newest
        self._show_reading(self.reading or 0.0)

    def _show_reading(self, fraction: float) -> None:
        self.reading, self._opened = fraction, True
        self.add_class("-reading")
        percent = int(100 * fraction)
        self.query_one("#reading-history", Static).update(
            f"Reading the run's history: {percent} %.\nThe tabs show it once it is all read; keys work meanwhile.")
        if self._newest is None:  # the status is not known yet: nothing is said of it
            return
        self._header.update(self._header_text(), layout=False)
        if (self.status, self.controller.alive) != self._shown_status:
            self._shown_status = (self.status, self.controller.alive)
            self.refresh_bindings()

    def _history_read(self, folded: RunState) -> None:
        """The whole history is in: the views are drawn from it, and the log is followed as usual."""
        self.state, self.reading = folded, None
        self._opened = True
        self.remove_class("-reading")
        if self.focused is None:  # the tabs were hidden while the history was read
            self._focus_tab()
        folded.dirty |= {"header", "settings", "metrics", "log", "layers", "evals", "mistakes"}
        folded.new_log_lines = list(folded.log_lines)
        self._charts_dirty |= {"history-chart", "validation-chart"}
        self._shown_status = None
        self._draw()
        self.call_after_refresh(self._replot)

    async def _start_over(self, events: list) -> None:
        """Forget what was read: the views are built again and drawn from the rewritten log."""
        self.state = RunState()
        self.state.apply(events)
        await self.recompose()
        self._header = self.query_one("#header", Static)
        self.state.dirty |= {"header", "settings", "metrics", "log", "layers", "evals", "mistakes"}
        self.state.new_log_lines = list(self.state.log_lines)
        self._charts_dirty |= {"history-chart", "validation-chart"}
        self._shown_status = None
        self._starting_over = False

    def _replot(self) -> None:
        hidden = self.app.has_class("-too-small") or self.app.screen is not self
        if not self._charts_dirty or hidden or not self._header.is_attached:
            return
        active = self.query_one(TabbedContent).active
        if active == "training" and "history-chart" in self._charts_dirty:
            self.query_one(HistoryChart).replot(self.state, SMOOTHING_LEVELS[self.smoothing], self.log_loss)
            self._charts_dirty.discard("history-chart")
        if active == "validation" and "validation-chart" in self._charts_dirty:
            for chart in self.query(EvalChart):
                chart.replot(self.state)
            self._charts_dirty.discard("validation-chart")

    def _header_text(self) -> Content:
        if self.reading is not None:
            return fit_header(header_fields(self._newest, self.controller, self.status, self.stopping, self.reading),
                              self.app.size.width - 2)
        fields = header_fields(self.state, self.controller, self.status, self.stopping)
        if self._late:  # never dropped to make room: the user waits for it
            key = CONTROL_NAMES[self._late].split()[0]
            fields.insert(3, Field("pending", Content.styled(f"{key} pending", "yellow")))
        return fit_header(fields, self.app.size.width - 2)  # 2: the padding

    def _show_settings(self) -> None:
        started, panel = self.state.started, self.query_one("#settings", Static)
        if started is None:
            panel.update("")
            return
        expanded = panel.has_class("-expanded")
        text = settings_line(started) + (f"\n{all_settings(started)}" if expanded else f" · {EXPAND_HINT}")
        panel.update(Content(text))  # settings are data, never markup

    def action_toggle_settings(self) -> None:
        self.query_one("#settings").toggle_class("-expanded")
        self._show_settings()

    def _show_error(self) -> None:
        error = self.state.error
        self._error_panel(Content.from_markup(
            "[b]Training failed:[/b] $message\nTraceback in $log\n"
            "The tabs stay usable; q quits (exit status 1), x hides this panel.", message=error.message,
            log=error.log_path))

    def _show_crash(self) -> None:
        self.run_worker(self._advise_on_crash, thread=True, group="crash")

    def _advise_on_crash(self) -> None:
        """The worker: how to go on depends on the run's settings and checkpoints (read from its folder)."""
        path = self.controller.run_path
        if not self.controller.resumable:
            how = "It was trained by your own code: run it again there."
        elif checkpoints.newest(RunDir(path)) is None:
            how = f"It has no checkpoint yet: mnist-tui --resume {path} starts it again from its settings."
        else:
            how = f"Go on from its newest checkpoint: mnist-tui --resume {path}"
        self.post_message(CrashAdvice(how))

    def on_crash_advice(self, advice: CrashAdvice) -> None:
        if self.status is not RunStatus.CRASHED:  # resumed meanwhile
            return
        self._error_panel(Content.from_markup(
            "[b]The trainer is gone[/b] without finishing the run (killed or crashed).\n$how\nx hides this panel.",
            how=advice.how))

    def _error_panel(self, content: Content) -> None:
        panel = self.query_one("#error-panel", Static)
        panel.update(content)
        panel.add_class("-shown")

    def _open_snapshot(self, index: int) -> None:
        if isinstance(self.app.screen, SnapshotScreen):
            self.app.pop_screen()
        self.app.push_screen(SnapshotScreen(self.state.snapshots, index))

    # ---- actions ----
    def key_label(self, action: str, description: str) -> str | None:
        """The key bar's label for a key now, or None to leave out a key that cannot act (the key
        itself still answers, saying why)."""
        status, alive = self.status, self.controller.alive
        if action == "pause":
            return None if status.ended or not alive else "Resume" if status is RunStatus.PAUSED else "Pause"
        if action in ("checkpoint", "t_auto_stats") and (status.ended or not alive):
            return None
        if action in ("snapshot", "validate", "t_refresh_stats") and not alive:
            return None
        return description

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        tab = self.TAB_ACTIONS.get(action)
        return tab is None or (self.app.screen is self and self.query_one(TabbedContent).active == tab)

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
        tabs = self.query_one(TabbedContent)
        if tabs.active == "runs":  # clicked: the runs table is a screen; this view stays as it was
            tabs.active = self._last_tab
            self.app.action_show_runs()
            return
        self._last_tab = tabs.active
        self._focus_tab()
        self.refresh_bindings()
        self.call_after_refresh(self._replot)

    def _focus_tab(self) -> None:
        """Focus the shown tab's main widget: its keys then work at once."""
        tab = {"training": TrainingTab, "layers": LayersTab, "validation": ValidationTab}[self._last_tab]
        self.query_one(tab).focus_main()

    def on_show_tab(self, message: ShowTab) -> None:
        self.query_one(TabbedContent).active = message.tab

    def on_request_quit(self, _message: RequestQuit) -> None:
        self.action_request_quit()

    def on_stop_and_leave(self, _message: StopAndLeave) -> None:
        self.stop_and_leave()

    def action_cycle_tab(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = TABS[(TABS.index(tabs.active) + delta) % len(TABS)]

    def _control(self, command: str, done: str, after_end: str = "", argument: str = "", then=None) -> bool:
        """Send a control to the trainer (True: sent), or say on screen why it cannot go. `done`: what
        to say once the trainer took it, `then`: what to do then. `after_end` names what makes no
        sense once training has ended (r, s and v still work then)."""
        if self.status.ended and after_end and self.controller.alive:
            why = f"Training has ended ({self.status.value}): {after_end}. r, s and v still work on the final model."
        else:
            why = self.controller.send(
                command, argument, answered=lambda why: self.post_message(ControlAnswered(command, why, done, then)),
                waiting=lambda: self.post_message(ControlLate(command)))
        if why is not None:
            self.app.notify(why, severity="warning", timeout=4)
            return False
        self.app.notify(f"Sent {CONTROL_NAMES[command]}…", timeout=2)
        return True

    @on(ControlAnswered)
    def _answered(self, answer: ControlAnswered) -> None:
        if self._late:
            self._late = None
            self.state.dirty.add("header")
        if answer.why is not None:
            if answer.command == "request_snapshot":
                self._open_next_snapshot = False
            elif answer.command == "stop":
                self._leave_when_ended = False
                self.state.dirty.add("header")
            self.app.notify(answer.why, severity="warning", timeout=4)
            return
        self.app.notify(answer.done or f"The trainer took {CONTROL_NAMES[answer.command]}.", timeout=2)
        if answer.then is not None:
            answer.then()

    @on(ControlLate)
    def _answer_late(self, late: ControlLate) -> None:
        self._late = late.command
        self.state.dirty.add("header")
        self.app.notify(f"No answer from the trainer yet: {CONTROL_NAMES[late.command]} is pending. It is carried out "
                        "when the trainer answers, and said here then.", severity="warning", timeout=6)

    def action_pause(self) -> None:
        self._control("toggle_pause", "", "nothing to pause")

    def action_snapshot(self) -> None:
        of = f" of {self.snapshot_layer}" if self.snapshot_layer else ""
        self._open_next_snapshot = self._control("request_snapshot", f"Snapshot{of} {self._when()}…",
                                                 argument=self.snapshot_layer)

    def action_pick_snapshot_layer(self) -> None:
        """S: choose the convolution or linear layer that snapshots show, then take one."""
        layers = [(row["name"], row["type"], row["param_shapes"]) for row in
                  (self.state.started.layers if self.state.started else [])
                  if row["type"].startswith("Conv") or row["type"] == "Linear"]
        if not layers:
            self.app.notify("No layer to pick yet: the run has not said what its layers are.",
                            severity="warning", timeout=4)
            return

        def picked(layer: str | None) -> None:
            if layer is not None:
                self.snapshot_layer = layer
                self.action_snapshot()

        self.app.push_screen(LayerPicker(layers, self.snapshot_layer), picked)

    def action_refresh_stats(self) -> None:
        self._control("request_layer_stats", f"Layer statistics {self._when()}…")

    def _when(self) -> str:
        return "of the final model" if self.status.ended else "at the next batch"

    def action_validate(self) -> None:
        self._control("request_validation", "Validating…")

    def action_checkpoint(self) -> None:
        self._control("request_checkpoint", "Checkpoint at the next batch…",
                      "no checkpoint to take, the final weights are in model.pdparams")

    def action_auto_stats(self) -> None:
        if self.state.started is None and not self.status.ended:
            # The engine's setting is only mirrored here once RunStarted has told it.
            self.app.notify(STARTING_HINT, severity="warning", timeout=4)
            return
        if self.status.ended:
            self._control("toggle_auto_stats", "", "no more batches for automatic statistics")  # says why
            return
        every = self.state.started.config.get("stats_every") or AUTO_STATS_EVERY
        on = not self.auto_every

        def toggled() -> None:
            self.auto_every = every if on else 0

        self._control("toggle_auto_stats", f"Automatic layer statistics every {every} batches." if on else
                      "Automatic layer statistics off.", then=toggled)

    def action_health_metric(self) -> None:
        label = self.query_one(HealthMap).next_metric()
        self.app.notify(f"Health map (Layers tab): {label}", timeout=2)

    def action_open_snapshot(self) -> None:
        if not self.state.snapshots:
            self.app.notify("No snapshot yet: press s.", timeout=2)
            return
        self.app.push_screen(SnapshotPicker(self.state.snapshots),
                             lambda index: self._open_snapshot(index) if index is not None else None)

    def action_smoothing(self, delta: int) -> None:
        wanted = self.smoothing + delta
        if not 0 <= wanted < len(SMOOTHING_LEVELS):
            self.app.notify(f"Smoothing is already at its {'most' if delta > 0 else 'least'} "
                            f"({SMOOTHING_LEVELS[self.smoothing]:g}).", timeout=2)
            return
        self.smoothing = wanted

    def action_log_scale(self) -> None:
        self.log_loss = not self.log_loss

    def watch_smoothing(self) -> None:
        self._charts_dirty.add("history-chart")
        self._replot()

    def watch_log_loss(self) -> None:
        self._charts_dirty.add("history-chart")
        self._replot()

    def watch_auto_every(self) -> None:
        self.state.dirty.add("layers")

    def action_hide_error(self) -> None:
        panel = self.query_one("#error-panel")
        if not panel.has_class("-shown"):
            self.app.notify("No error panel to hide.", timeout=2)
        panel.remove_class("-shown")

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.auto_every or AUTO_STATS_EVERY))

    def action_request_quit(self) -> None:
        """Training still going: ask whether to stop it, leave it in the background, or stay."""
        if self.stopping:
            return
        if self.status.ended or not self.controller.alive:
            self.app.leave()
            return
        self.app.push_screen(QuitScreen(), self._quit_chosen)

    def _quit_chosen(self, choice: QuitChoice) -> None:
        if choice is QuitChoice.STOP:
            self.stop_and_leave()
        elif choice is QuitChoice.BACKGROUND:
            self.app.leave(detached=True)

    def stop_and_leave(self) -> None:
        """Stop after the current batch (the trainer saves a checkpoint); the app leaves once it has."""
        if not (self.controller.alive and not self.status.ended):
            self.app.leave()
            return
        why = self.controller.stop(answered=lambda why: self.post_message(ControlAnswered("stop", why)))
        if why is not None:
            self.app.notify(why, severity="warning", timeout=4)
            return
        self.app.notify("Stopping after the current batch, saving a checkpoint…", timeout=4)
        self._leave_when_ended = True
        self.state.dirty.add("header")
