"""Tab 1: the live figures (recent-window sparklines, their numbers, progress), the full-history
chart, the log."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.charts import HistoryChart
from mnist_tui.tui.widgets.live_figures import LiveFigures
from mnist_tui.tui.widgets.wrapped_log import WrappedLog


class TrainingTab(Vertical):
    def compose(self) -> ComposeResult:
        yield LiveFigures()
        yield HistoryChart(id="history-chart")
        yield WrappedLog(id="log")

    def show_metrics(self, state: RunState) -> None:
        self.query_one(LiveFigures).show(state)

    def write_log(self, lines: list[str]) -> None:
        self.query_one(WrappedLog).add_lines(lines)

    def focus_main(self) -> None:
        self.query_one(WrappedLog).focus()
