"""The two plotext charts. Each `replot` rebuilds the whole figure, so the app calls it a few times
a second at most, and only for a visible chart whose data changed."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from .history import smooth
from .state import RunState


class HistoryChart(PlotextPlot):
    """Full-run loss (left axis) and accuracy (right axis), smoothed; non-finite losses marked x."""

    def replot(self, state: RunState, beta: float, log_loss: bool) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs, loss = state.loss_history.points()
        axs, acc = state.acc_history.points()
        scale = "log" if log_loss else "linear"
        title = f"loss ({scale}) and accuracy, smoothing {beta:g}"
        if log_loss:
            keep = [i for i, v in enumerate(loss) if v > 0]
            xs, loss = [xs[i] for i in keep], [loss[i] for i in keep]
        if xs:
            plt.plot(xs, smooth(loss, beta), label="loss", color="red", marker="braille")
        if axs:
            plt.plot(axs, smooth(acc, beta), label="acc", color="green", marker="braille", yside="right")
        bad = list(state.loss_history.nonfinite_xs)
        if bad:
            top = max(loss) if loss else 1.0
            plt.scatter(bad, [top] * len(bad), marker="x", color="magenta", label="non-finite loss")
            title += f", {len(bad)} non-finite"
        plt.yscale(scale, yside="left")
        plt.title(title)
        plt.xlabel("epoch")
        self.refresh()


class ValidationChart(PlotextPlot):
    """Train and validation accuracy and loss on one axis, the gap as its own series."""

    def replot(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        evals = [e for e in state.evals if e.train_acc is not None]
        bpe = state.bpe or 1
        xs = [e.step / bpe for e in evals]
        title = "accuracy and loss; gap = train - val acc (right axis)"
        if xs:
            plt.plot(xs, [e.train_acc for e in evals], label="train acc", color="green", marker="hd")
            plt.plot(xs, [e.acc for e in evals], label="val acc", color="cyan", marker="hd")
            plt.plot(xs, [_finite(e.train_loss) for e in evals], label="train loss", color="red", marker="hd")
            plt.plot(xs, [_finite(e.loss) for e in evals], label="val loss", color="orange", marker="hd")
            plt.plot(xs, [e.gap for e in evals], label="gap", color="magenta", marker="hd", yside="right")
        best = state.lowest_val_loss()
        if best is not None:
            plt.vline(best.step / bpe, color="yellow")
        plt.title(title)
        plt.xlabel("epoch")
        self.refresh()


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else float("nan")
