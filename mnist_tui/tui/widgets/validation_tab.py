"""Tab 3: the engine's diagnosis, one row per evaluation with the honest gap, accuracy, gap and
loss charts, and what the network gets wrong (confusion matrix, most confused pairs, worst-classified
digits). It scrolls."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from mnist_tui.run.events import accuracy_like
from mnist_tui.tui.state import NO_EVALUATION, RunState, at_done
from mnist_tui.tui.widgets.charts import AccuracyChart, GapChart, LossChart
from mnist_tui.tui.widgets.fitted_text import FittedText
from mnist_tui.tui.widgets.layers_tab import text_table
from mnist_tui.tui.widgets.mistakes_view import confusion_table, digit_gallery, pairs_text

TEST_PENDING = "Test accuracy: when training ends"
TEST_LOSS_PENDING = "Test loss: when training ends"
NO_TEST = "No test result: this run's loop ran no test."
NO_EVALUATION_ENDED = "No evaluation: this run ended without validating."
COLUMNS = ("at", "run loss", "run acc", "train loss", "train acc", "val loss", "val acc", "gap")
ACCURACY_COLUMNS = ("run acc", "train acc", "val acc", "gap")  # not shown for a run without an accuracy
ROWS_SHOWN = 6  # the newest evaluations; the chart has them all
COLUMNS_NOTE = ("[dim]at: epoch and batch. run: mean of the training batches since the previous evaluation (weights "
                "moving{shifted}). train: a fixed subset of {n:,} training images, evaluated like validation; "
                "gap = train acc - val acc, in points.[/]")
NO_TRAIN_SIDE_NOTE = ("[dim]at: epoch and batch. This run's loop evaluated validation only: no training figures "
                      "measured the same way, so no gap.[/]")
NO_MISTAKES_YET = "Confusion matrix: at the first evaluation (v validates now)."
NO_MISTAKES = "No confusion matrix: this run's evaluations give loss and accuracy only."
NOT_CLASSIFYING = "No confusion matrix or worst examples: this run's task is {task}, not classification."


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
    rows: tuple[tuple[str, ...], ...] = ()  # the table's rows as shown (the newest evaluations)
    def compose(self) -> ComposeResult:
        yield Static(NO_EVALUATION, id="diagnosis")  # until the first evaluation arrives
        yield Static(TEST_PENDING, id="test-result")
        yield Static(id="eval-table", classes="text-table")
        yield Static(id="eval-note")
        yield Static(AccuracyChart.LEGEND.format(words="Accuracy", train=AccuracyChart.TRAIN), id="accuracy-legend",
                     classes="chart-legend accuracy-panel")
        yield AccuracyChart(id="accuracy-chart", classes="eval-chart accuracy-panel")
        yield Static(GapChart.LEGEND, classes="chart-legend accuracy-panel gap-panel")
        yield GapChart(id="gap-chart", classes="eval-chart accuracy-panel gap-panel")
        yield Static(LossChart.LEGEND.format(train=LossChart.TRAIN), id="loss-legend", classes="chart-legend")
        yield LossChart(id="loss-chart", classes="eval-chart")
        yield Static(NO_MISTAKES_YET, id="mistakes-title")
        with Horizontal(id="mistakes"):
            yield Static(id="confusion", classes="text-table")
            yield Static(id="confused-pairs")
        yield Static(id="gallery-title")
        yield DigitGallery(id="gallery")

    def show(self, state: RunState, ended: bool = False) -> None:
        if state.evals:
            columns, self.rows = _table(state)
            self.query_one("#eval-table", Static).update(text_table(columns, list(self.rows)))
            earlier = len(state.evals) - ROWS_SHOWN
            shown = f" ({earlier} earlier rows in the chart)" if earlier > 0 else ""
            shifted = ", images shifted" if state.started and state.started.config.get("shift") else ""
            note = COLUMNS_NOTE.format(n=state.evals[-1].train_size, shifted=shifted) \
                if state.evals[-1].train_acc is not None else NO_TRAIN_SIDE_NOTE
            self.query_one("#eval-note", Static).update(note + shown)
            if state.mistakes is None and all(e.diagnosis == "" for e in state.evals):  # not our trainer's
                self.query_one("#mistakes-title", Static).update(NO_MISTAKES)
        if not state.classifies:
            self.query_one("#mistakes-title", Static).update(Content(NOT_CLASSIFYING.format(task=state.task)))
        # A loop of someone else's may measure no accuracy, or validation alone (no training side, no gap).
        train_side = any(e.train_loss is not None for e in state.evals)
        for panel in self.query(".accuracy-panel"):
            panel.display = state.has_accuracy and (train_side or "gap-panel" not in panel.classes)
        if state.has_accuracy:
            words = state.accuracy_words  # the metric's name comes from the run's own code: data, not markup
            legend = AccuracyChart.LEGEND.format(words="$words", train=AccuracyChart.TRAIN if train_side else "")
            self.query_one("#accuracy-legend", Static).update(
                Content.from_markup(legend, words=words[:1].upper() + words[1:]))
        self.query_one("#loss-legend", Static).update(LossChart.LEGEND.format(train=LossChart.TRAIN if train_side else ""))
        diagnosis = NO_EVALUATION_ENDED if ended and not state.evals else state.diagnosis()
        self.query_one("#diagnosis", Static).update(Content(diagnosis))
        test, best = state.test, state.lowest_val_loss()
        if test is None:
            text = NO_TEST if ended else TEST_PENDING if state.has_accuracy else TEST_LOSS_PENDING
        elif test.acc is None:
            text = f"[b]Test loss {test.loss:.4f}[/b]"
        else:
            text = f"[b]Test accuracy {100 * test.acc:.2f}%[/b] (loss {test.loss:.4f})"
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


def _table(state: RunState) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The newest evaluations' rows: the accuracy columns only when the run has an accuracy, a
    column for each other metric, by its name, and no column that no row has a figure in (a loop
    that evaluates validation only measures no running or training side)."""
    others = list(dict.fromkeys(name for e in state.evals for name, _ in state.other_metrics(e)))
    columns = [c for c in COLUMNS if state.has_accuracy or c not in ACCURACY_COLUMNS] + [f"val {n}" for n in others]
    rows = []
    for e in state.evals[-ROWS_SHOWN:]:
        cells = {"at": f"e{e.epoch + 1} b{e.batch}", "run loss": _num(e.running_loss), "run acc": _pct(e.running_acc),
                 "train loss": _num(e.train_loss), "train acc": _pct(e.train_acc), "val loss": _num(e.loss),
                 "val acc": _pct(e.acc), "gap": "-" if e.gap is None else f"{100 * e.gap:+.2f}"}
        figures = dict(state.other_metrics(e))
        cells |= {f"val {n}": (_pct if accuracy_like(n) else _num)(figures.get(n)) for n in others}
        rows.append([cells[c] for c in columns])
    kept = [i for i, c in enumerate(columns) if c in ("at", "val loss") or any(row[i] != "-" for row in rows)]
    return tuple(columns[i] for i in kept), tuple(tuple(row[i] for i in kept) for row in rows)
