"""Tab 1: the live figures (recent-window sparklines, their numbers, progress), the full-history
chart, the log."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log

from .charts import HistoryChart
from .live_figures import LiveFigures
from .state import RunState


class TrainingTab(Vertical):
    def compose(self) -> ComposeResult:
        yield LiveFigures()
        yield HistoryChart(id="history-chart")
        yield Log(id="log", max_lines=500)

    def show_metrics(self, state: RunState) -> None:
        self.query_one(LiveFigures).show(state)

    def write_log(self, lines: list[str]) -> None:
        self.query_one(Log).write_lines(lines)

    def focus_main(self) -> None:
        self.query_one(Log).focus()
