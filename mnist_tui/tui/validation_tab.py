"""Tab 3: one row per evaluation with the generalisation gap, the course's diagnosis, a chart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from .charts import ValidationChart
from .state import NO_EVALUATION, RunState

TEST_PENDING = "Test accuracy: when training ends"
COLUMNS = ("epoch", "batch", "train loss", "train acc", "val loss", "val acc", "gap (points)")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


class ValidationTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(NO_EVALUATION, id="diagnosis")  # until the first evaluation arrives
        yield Static(TEST_PENDING, id="test-result")
        yield DataTable(id="eval-table", zebra_stripes=True, cursor_type="row")
        yield ValidationChart(id="validation-chart")
        yield Static(ValidationChart.legend(), id="validation-legend")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)

    def show(self, state: RunState) -> None:
        table = self.query_one(DataTable)
        for e in state.evals[table.row_count:]:
            gap = "-" if e.gap is None else f"{100 * e.gap:+.2f}"
            table.add_row(str(e.epoch), str(e.batch), "-" if e.train_loss is None else f"{e.train_loss:.4f}",
                          _pct(e.train_acc), f"{e.loss:.4f}", _pct(e.acc), gap)
            table.move_cursor(row=table.row_count - 1)
        self.query_one("#diagnosis", Static).update(state.diagnosis())
        test, best = state.test, state.lowest_val_loss()
        text = TEST_PENDING if test is None else \
            f"[b]Test accuracy {100 * test.acc:.2f}%[/b] (loss {test.loss:.4f})"
        if best is not None:
            text += f" │ lowest val loss {best.loss:.4f} at epoch {best.epoch}"
        self.query_one("#test-result", Static).update(text)

    def focus_main(self) -> None:
        self.query_one(DataTable).focus()
