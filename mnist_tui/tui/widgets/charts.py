"""The plotext charts. Building a figure is slow, so the app replots every few seconds at most
(CHART_S in app.py), and only a visible chart whose data changed; a chart draws its figure again
only when its data, its size or the theme change."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from mnist_tui.tui.history import SMOOTHING_LEVELS, Bucket
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.ticks import Axis, row_axis, span_ticks

X_TICK_COLUMNS = 9  # at least this many columns between two x tick labels


@dataclass
class Label:
    """A series' newest value, written at the end of its line."""

    text: str
    x: float
    y: float
    colour: str


class CachedPlot(PlotextPlot):
    """PlotextPlot builds its figure again on every render, and showing a tab renders all of it:
    this keeps the built figure until the data (replot), the size or the theme change.

    Subclasses keep their data in `replot` and draw it in `draw`, which knows the size: the axes'
    ticks are placed there, each on a whole row (ticks.row_axis)."""

    TITLE_ROWS = 1
    X_LABEL = "epoch"
    _generation = 0
    _built: tuple = (None, None)

    def redraw(self) -> None:
        self._generation += 1
        self.refresh()

    def render(self):
        key = (self._generation, self.size, self.app.theme)
        if self._built[0] != key:
            self.plt.clear_data()
            self.plt.clear_figure()
            self.draw()
            if self.X_LABEL:
                self.plt.xlabel(self.X_LABEL)
            self._built = (key, super().render())
        return self._built[1]

    def draw(self) -> None:
        raise NotImplementedError

    @property
    def plot_rows(self) -> int:
        """Rows inside the frame: the widget's less the title, the frame, x tick labels and x label."""
        return self.size.height - self.TITLE_ROWS - 3 - bool(self.X_LABEL)

    def y_axis(self, values: list[float], yside: str = "left", log: bool = False) -> Axis | None:
        """Round ticks for these values on one side, each on a row; None when there are none."""
        finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if not finite:
            return None
        if log:  # plotext takes a log axis's limits in log10 units and its ticks in data units
            axis = row_axis(math.log10(min(finite)), math.log10(max(finite)), self.plot_rows)
            self.plt.ylim(axis.low, axis.high, yside=yside)
            self.plt.yticks([10**t for t in axis.ticks], [f"{10**t:.3g}" for t in axis.ticks], yside=yside)
        else:
            axis = row_axis(min(finite), max(finite), self.plot_rows)
            self.plt.ylim(axis.low, axis.high, yside=yside)
            self.plt.yticks(axis.ticks, axis.labels, yside=yside)
        return axis

    def x_axis(self, xs: list[float]) -> None:
        if xs:
            axis = span_ticks(min(xs), max(xs), max(2, (self.size.width - 12) // X_TICK_COLUMNS))
            self.plt.xlim(axis.low, axis.high)
            self.plt.xticks(axis.ticks, axis.labels)

    def write_labels(self, labels: list[Label], axis: Axis | None) -> None:
        """Each label at its line's end; where two would share a row, the lower goes down a row,
        so they keep their lines' order."""
        rows = self.plot_rows
        if axis is None or rows < 2:
            return
        placed = sorted((((label.y - axis.low) / (axis.high - axis.low) * (rows - 1), label) for label in labels
                         if math.isfinite(label.y)), key=lambda p: -p[0])
        chosen, ceiling = [], rows - 1
        for position, _ in placed:
            chosen.append(min(round(position), ceiling))
            ceiling = chosen[-1] - 1
        lift = max(0, -chosen[-1]) if chosen else 0  # pushed below the axis: move the stack up
        for row, (_, label) in zip(chosen, placed):
            y = axis.low + min(row + lift, rows - 1) * (axis.high - axis.low) / (rows - 1)
            self.plt.text(label.text, x=label.x, y=y, color=label.colour, alignment="right")


class HistoryChart(CachedPlot):
    """Full-run loss (left axis) and accuracy (right axis, when the run has one). The loss is drawn
    as the band between each bucket's lowest and highest batch (a one-batch spike shows at any run
    length) with its smoothed line; non-finite losses are marked x.

    The title names each series by its glyph (a legend box would cover the start of the curves).
    """

    _loss: Sequence[Bucket] = ()
    _acc: Sequence[Bucket] = ()
    _nonfinite: Sequence[float] = ()
    _level = 0
    _log_loss = False
    _accuracy_words = ""  # none: the run measures no accuracy

    def replot(self, state: RunState, beta: float, log_loss: bool) -> None:
        self._loss = state.loss_history.all_buckets()
        self._acc = state.acc_history.all_buckets()
        self._nonfinite = list(state.loss_history.nonfinite_xs)
        self._level, self._log_loss = SMOOTHING_LEVELS.index(beta), log_loss
        self._accuracy_words = state.accuracy_words if state.has_accuracy else ""
        self.redraw()

    def draw(self) -> None:
        plt = self.plt
        beta = SMOOTHING_LEVELS[self._level]
        scale = "log" if self._log_loss else "linear"
        title = f"loss ⠤ (left, {scale}): min-max band, smoothed {beta:g} · {self._accuracy_words} ▄ (right)" \
            if self._accuracy_words else f"loss ⠤ ({scale}): min-max band, smoothed {beta:g}"
        loss = [b for b in self._loss if b.low > 0] if self._log_loss else self._loss
        if loss:
            band_x = [x for b in loss for x in (b.x, b.x)]
            plt.plot(band_x, [y for b in loss for y in (b.low, b.high)], color="red", marker="braille")
            if beta:
                plt.plot([b.x for b in loss], [b.smoothed[self._level] for b in loss], color="orange",
                         marker="braille")
        if self._acc and self._accuracy_words:
            plt.plot([b.x for b in self._acc], [b.smoothed[self._level] for b in self._acc], color="green",
                     marker="hd", yside="right")
        if self._nonfinite:
            top = max(b.high for b in loss) if loss else 1.0
            plt.scatter(self._nonfinite, [top] * len(self._nonfinite), marker="x", color="magenta")
            title += f" · x = {len(self._nonfinite)} non-finite"
        plt.yscale(scale, yside="left")
        self.y_axis([y for b in loss for y in (b.low, b.high)], log=self._log_loss)
        if self._accuracy_words:
            self.y_axis([b.smoothed[self._level] for b in self._acc], yside="right")
        self.x_axis([b.x for b in [*loss, *self._acc]] + list(self._nonfinite))
        plt.title(title)


@dataclass
class Series:
    marker: str
    colour: str
    xs: list[float]
    ys: list[float]
    text: str  # the newest value, as the label at the line's end shows it


class EvalChart(CachedPlot):
    """One panel of the Validation tab: each evaluation a point on a line, x in epochs, the newest
    value written at each line's end. The legend line over each panel names the markers, so the
    lines read without colour too."""

    TITLE_ROWS = 0
    X_LABEL = ""
    LEGEND = ""
    MARKS_LOWEST_LOSS = False
    _series: Sequence[Series] = ()
    _vline: float | None = None

    def replot(self, state: RunState) -> None:
        bpe = state.bpe or 1
        self._series = [s for s in self.series(state.evals, bpe) if s.xs]
        best = state.lowest_val_loss()
        self._vline = best.step / bpe if best is not None and self.MARKS_LOWEST_LOSS else None
        self.redraw()

    def series(self, evals: list, bpe: int) -> list[Series]:
        raise NotImplementedError

    def draw(self) -> None:
        plt = self.plt
        for s in self._series:
            plt.plot(s.xs, s.ys, marker=s.marker, color=s.colour)
        if self._vline is not None:
            plt.vline(self._vline, color="yellow")
        axis = self.y_axis([y for s in self._series for y in s.ys])
        self.x_axis([x for s in self._series for x in s.xs])
        self.write_labels([Label(s.text, s.xs[-1], s.ys[-1], s.colour) for s in self._series], axis)


def _kept(evals: list, bpe: int, value) -> tuple[list[float], list[float]]:
    """(epochs, values) of the evaluations that measured this figure (a loop of ours measures all)."""
    pairs = [(e.step / bpe, value(e)) for e in evals if value(e) is not None]
    return [x for x, _ in pairs], [y if math.isfinite(y) else float("nan") for _, y in pairs]


class AccuracyChart(EvalChart):
    """Validation and training-subset accuracy, in %."""

    LEGEND = "[b]{words} %[/b]  [cyan]⣿[/] validation{train}  [dim](x: epochs)[/]"
    TRAIN = "  [green]•[/] train"  # in the legend when the run measures its training side

    def series(self, evals: list, bpe: int) -> list[Series]:
        val = _kept(evals, bpe, lambda e: None if e.acc is None else 100 * e.acc)
        train = _kept(evals, bpe, lambda e: None if e.train_acc is None else 100 * e.train_acc)
        return [Series("•", "green", *train, f"{train[1][-1]:.2f}" if train[1] else ""),
                Series("braille", "cyan", *val, f"{val[1][-1]:.2f}" if val[1] else "")]


class GapChart(EvalChart):
    """Train accuracy minus validation accuracy, in points as the table has it; a line at 0."""

    LEGEND = "[b]Gap[/b], points: train acc - validation acc  [magenta]⣿[/]"

    def series(self, evals: list, bpe: int) -> list[Series]:
        gap = _kept(evals, bpe, lambda e: None if e.gap is None else 100 * e.gap)
        return [Series("braille", "magenta", *gap, f"{gap[1][-1]:+.2f}" if gap[1] else "")]

    def draw(self) -> None:
        if self._series:
            self.plt.hline(0.0, color="gray")
        super().draw()


class LossChart(EvalChart):
    """Validation and training-subset loss; a yellow line at the lowest validation loss."""

    LEGEND = "[b]Loss[/b]  [orange]⣿[/] validation{train}  [yellow]|[/] lowest validation loss"
    TRAIN = "  [red]•[/] train"
    MARKS_LOWEST_LOSS = True

    def series(self, evals: list, bpe: int) -> list[Series]:
        val, train = _kept(evals, bpe, lambda e: e.loss), _kept(evals, bpe, lambda e: e.train_loss)
        return [Series("•", "red", *train, f"{train[1][-1]:.4f}" if train[1] else ""),
                Series("braille", "orange", *val, f"{val[1][-1]:.4f}" if val[1] else "")]
