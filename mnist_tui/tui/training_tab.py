"""Tab 1: recent-window sparklines with their figures, progress, the full-history chart, the log."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Log, ProgressBar, Sparkline, Static

from .charts import HistoryChart
from .history import Window
from .state import RunState


def _fmt(value: float | None, pattern: str = "{:.4f}") -> str:
    return "-" if value is None else pattern.format(value)


class TrainingTab(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(classes="spark-row"):
            yield Label("loss", classes="spark-name")
            yield Sparkline([], id="loss-spark")
            yield Static("", id="loss-figures", classes="spark-figures")
        with Horizontal(classes="spark-row"):
            yield Label("acc", classes="spark-name")
            yield Sparkline([], id="acc-spark")
            yield Static("", id="acc-figures", classes="spark-figures")
        with Horizontal(classes="progress-row"):
            yield Label("epoch", classes="progress-name")
            yield ProgressBar(id="epoch-progress", show_eta=False)
            yield Label("run", classes="progress-name")
            yield ProgressBar(id="run-progress", show_eta=False)
        yield HistoryChart(id="history-chart")
        yield Log(id="log", max_lines=500)

    def show_metrics(self, state: RunState) -> None:
        self._spark("loss", state.loss_window, f"best {_fmt(state.best_loss)}", "{:.4f}")
        self._spark("acc", state.acc_window, f"best {_fmt(state.best_acc, '{:.3f}')}", "{:.3f}")
        if state.bpe:
            self.query_one("#epoch-progress", ProgressBar).update(total=state.bpe, progress=state.batch + 1)
            self.query_one("#run-progress", ProgressBar).update(total=state.total_steps, progress=state.step + 1)

    def _spark(self, name: str, window: Window, best: str, pattern: str) -> None:
        self.query_one(f"#{name}-spark", Sparkline).data = window.finite()
        self.query_one(f"#{name}-figures", Static).update(  # fixed width: repaint only, no layout pass
            f"now {_fmt(window.current, pattern)}  mean {_fmt(window.mean, pattern)}  {best}", layout=False)

    def write_log(self, lines: list[str]) -> None:
        self.query_one(Log).write_lines(lines)

    def focus_main(self) -> None:
        self.query_one(Log).focus()
