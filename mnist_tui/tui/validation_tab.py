"""Tab 3: the engine's diagnosis, one row per evaluation with the honest gap, a chart, and what the
network gets wrong (confusion matrix, most confused pairs, worst-classified digits). It scrolls."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from .charts import ValidationChart
from .fitted_text import FittedText
from .layers_tab import text_table
from .mistakes_view import confusion_table, digit_gallery, pairs_text
from .state import NO_EVALUATION, RunState, at_done

TEST_PENDING = "Test accuracy: when training ends"
NO_TEST = "No test result: this run's loop ran no test."
COLUMNS = ("at", "run loss", "run acc", "train loss", "train acc", "val loss", "val acc", "gap")
ROWS_SHOWN = 6  # the newest evaluations; the chart has them all
COLUMNS_NOTE = ("[dim]at: epoch and batch. run: mean of the training batches since the previous evaluation (weights "
                "moving{shifted}). train: a fixed subset of {n:,} training images, evaluated like validation; "
                "gap = train acc - val acc, in points.[/]")
NO_TRAIN_SIDE_NOTE = ("[dim]at: epoch and batch. This run's loop evaluated validation only: no training figures "
                      "measured the same way, so no gap.[/]")
NO_MISTAKES_YET = "Confusion matrix: at the first evaluation (v validates now)."
NO_MISTAKES = "No confusion matrix: this run's evaluations give loss and accuracy only."


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class DigitGallery(FittedText):
    """The worst-classified digits, as many side by side as the width allows."""

    worst: list[dict] | None = None

    def fit(self, width: int) -> Text:
        return Text("") if self.worst is None else digit_gallery(self.worst, max(width, 30))


class ValidationTab(VerticalScroll):
    rows: list[tuple[str, ...]]

    def compose(self) -> ComposeResult:
        yield Static(NO_EVALUATION, id="diagnosis")  # until the first evaluation arrives
        yield Static(TEST_PENDING, id="test-result")
        yield Static(id="eval-table", classes="text-table")
        yield Static(id="eval-note")
        yield ValidationChart(id="validation-chart")
        yield Static(ValidationChart.legend(), id="validation-legend")
        yield Static(NO_MISTAKES_YET, id="mistakes-title")
        with Horizontal(id="mistakes"):
            yield Static(id="confusion", classes="text-table")
            yield Static(id="confused-pairs")
        yield Static(id="gallery-title")
        yield DigitGallery(id="gallery")

    def on_mount(self) -> None:
        self.rows = []

    def show(self, state: RunState, ended: bool = False) -> None:
        for e in state.evals[len(self.rows):]:
            gap = "-" if e.gap is None else f"{100 * e.gap:+.2f}"
            self.rows.append((f"e{e.epoch + 1} b{e.batch}", _num(e.running_loss), _pct(e.running_acc),
                              _num(e.train_loss), _pct(e.train_acc), _num(e.loss), _pct(e.acc), gap))
        if self.rows:
            self.query_one("#eval-table", Static).update(text_table(COLUMNS, self.rows[-ROWS_SHOWN:]))
            shown = f" ({len(self.rows) - ROWS_SHOWN} earlier rows in the chart)" if len(self.rows) > ROWS_SHOWN else ""
            shifted = ", images shifted" if state.started and state.started.config.get("shift") else ""
            note = COLUMNS_NOTE.format(n=state.evals[-1].train_size, shifted=shifted) \
                if state.evals[-1].train_acc is not None else NO_TRAIN_SIDE_NOTE
            self.query_one("#eval-note", Static).update(note + shown)
            if state.mistakes is None and all(e.diagnosis == "" for e in state.evals):  # not our trainer's
                self.query_one("#mistakes-title", Static).update(NO_MISTAKES)
        self.query_one("#diagnosis", Static).update(Content(state.diagnosis()))
        test, best = state.test, state.lowest_val_loss()
        text = (NO_TEST if ended else TEST_PENDING) if test is None else \
            f"[b]Test accuracy {100 * test.acc:.2f}%[/b] (loss {test.loss:.4f})"
        if best is not None:
            text += f" │ lowest val loss {best.loss:.4f} at {state.at(best)}"
        self.query_one("#test-result", Static).update(text)

    def show_mistakes(self, state: RunState) -> None:
        m = state.mistakes
        if m is None:
            return
        total = sum(map(sum, m.confusion))
        self.query_one("#mistakes-title", Static).update(
            f"[b]Confusion matrix[/b] (validation, {total:,} images, {at_done(m.epoch, m.batch, state.bpe)}): "
            "rows true digit, columns predicted")
        self.query_one("#confusion", Static).update(confusion_table(m.confusion))
        self.query_one("#confused-pairs", Static).update(pairs_text(m.confusion))
        self.query_one("#gallery-title", Static).update(
            f"[b]Worst-classified validation digits[/b] (highest loss first; {len(m.worst)} shown)")
        gallery = self.query_one(DigitGallery)
        gallery.worst = m.worst
        gallery.changed()

    def focus_main(self) -> None:
        self.focus()
