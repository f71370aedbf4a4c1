"""The two plotext charts. Each `replot` rebuilds the whole figure, so the app calls it every few
seconds at most (CHART_S in app.py), and only for a visible chart whose data changed."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from .history import smooth
from .state import RunState


class CachedPlot(PlotextPlot):
    """PlotextPlot builds its figure again on every render, and showing a tab renders all of it:
    this keeps the built figure until the data (replot), the size or the theme change."""

    _generation = 0
    _built: tuple = (None, None)

    def redraw(self) -> None:
        self._generation += 1
        self.refresh()

    def render(self):
        key = (self._generation, self.size, self.app.theme)
        if self._built[0] != key:
            self._built = (key, super().render())
        return self._built[1]


class HistoryChart(CachedPlot):
    """Full-run loss (left axis) and accuracy (right axis, when the run has one), smoothed;
    non-finite losses marked x.

    The title names each series by its glyph (a legend box would cover the start of the curves).
    """

    def replot(self, state: RunState, beta: float, log_loss: bool) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs, loss = state.loss_history.points()
        axs, acc = state.acc_history.points()
        scale = "log" if log_loss else "linear"
        title = f"loss ⠤ (left, {scale}) · {state.accuracy_words} ▄ (right) · smoothing {beta:g}" \
            if state.has_accuracy else f"loss ⠤ ({scale}) · smoothing {beta:g}"
        if log_loss:
            keep = [i for i, v in enumerate(loss) if v > 0]
            xs, loss = [xs[i] for i in keep], [loss[i] for i in keep]
        if xs:
            plt.plot(xs, smooth(loss, beta), color="red", marker="braille")
        if axs:
            plt.plot(axs, smooth(acc, beta), color="green", marker="hd", yside="right")
        bad = list(state.loss_history.nonfinite_xs)
        if bad:
            top = max(loss) if loss else 1.0
            plt.scatter(bad, [top] * len(bad), marker="x", color="magenta")
            title += f" · x = {len(bad)} non-finite"
        plt.yscale(scale, yside="left")
        plt.title(title)
        plt.xlabel("epoch")
        self.redraw()


class ValidationChart(CachedPlot):
    """Train and validation accuracy and loss on one axis, the gap on the right axis (a run with no
    accuracy: its losses alone).

    No plotext legend (it would cover a short chart): each series has its own marker character,
    listed in the line under the chart, so it reads without colour too.
    """

    SERIES = (("train acc", "+", "green"), ("val acc", "x", "cyan"), ("train loss", "•", "red"),
              ("val loss", "o", "orange"), ("gap (right)", "*", "magenta"))
    LOSSES = ("train loss", "val loss")

    def replot(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        evals = state.evals
        bpe = state.bpe or 1
        xs = [e.step / bpe for e in evals]
        columns = ([e.train_acc for e in evals], [e.acc for e in evals], [e.train_loss for e in evals],
                   [e.loss for e in evals], [e.gap for e in evals])
        for (name, marker, colour), ys in zip(self.SERIES, columns):
            if not state.has_accuracy and name not in self.LOSSES:
                continue
            kept = [(x, _finite(y)) for x, y in zip(xs, ys) if y is not None]  # a loop of ours measures all five
            if kept:
                plt.plot([x for x, _ in kept], [y for _, y in kept], marker=marker, color=colour,
                         yside="right" if ys is columns[-1] else "left")
        best = state.lowest_val_loss()
        if best is not None:
            plt.vline(best.step / bpe, color="yellow")
        plt.xlabel("epoch")
        self.redraw()

    @classmethod
    def legend(cls, accuracy: bool = True) -> str:
        return "  ".join(f"[{colour}]{marker}[/] {name}" for name, marker, colour in cls.SERIES
                         if accuracy or name in cls.LOSSES) + "  [yellow]|[/] min val loss"


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else float("nan")
