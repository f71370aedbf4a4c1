"""The Training tab's live figures: loss and accuracy sparklines with their numbers (and one for
each other metric the run names, up to two; a run without an accuracy gets loss alone), the
learning rate over the whole run where the run logs it, and the epoch and run progress, drawn by
one widget through Textual's line API.

They change on every frame while training shares the cores with the UI. Built from Textual's
widgets (two Sparklines, two Statics, two ProgressBars and their Labels), a frame repainted a
dozen widgets, and each Sparkline sent one Rich segment per bar through the Rich pipeline: about
5% of a core at 120x40. Here a frame builds a few strips, and only when what they show changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from mnist_tui.run.events import accuracy_like
from mnist_tui.tui.history import Window
from mnist_tui.tui.state import RunState

BARS = "▁▂▃▄▅▆▇█"
NAME_WIDTH = 6  # at least; a metric's longer name (acc_top5) widens it
MAX_NAME_WIDTH = 12
EXTRA_METRICS_SHOWN = 2  # sparklines for metrics besides loss and accuracy; all of them are in the log lines
FIGURES_WIDTH = 42
PERCENT_WIDTH = 5
COLOUR_STEPS = 8  # from the min colour (low bars) to the max colour (high bars)
LR_POINTS = 200  # the learning rate's sparkline draws at most this many of the run's points


def bar_levels(data: Sequence[float], width: int, height: int) -> list[int]:
    """For each of `width` columns, the height of its bar in eighths of a row (0 to 8*height - 1):
    the largest value of the column's share of `data`, scaled between the data's min and max, as
    Textual's Sparkline does. No data: a flat line at the bottom."""
    if width <= 0:
        return []
    if not data:
        return [0] * width
    top = len(BARS) * height - 1
    low, high = min(data), max(data)
    extent = (high - low) or 1.0
    n = len(data)
    levels = []
    for column in range(width):
        start, end = column * n // width, (column + 1) * n // width
        bucket = data[start:max(end, start + 1)] if start < n else data[-1:]
        levels.append(int((max(bucket) - low) / extent * top))
    return levels


def bar_rows(levels: list[int], height: int) -> list[list[tuple[str, int]]]:
    """The bars' rows, top row first, each as runs of (glyphs, colour step); a run is one segment,
    so neighbouring bars of about the same height share one. Step -1 is empty space."""
    top = len(BARS) * height
    rows = []
    for row in reversed(range(height)):
        floor, ceiling = row * len(BARS), (row + 1) * len(BARS)
        runs: list[tuple[str, int]] = []
        for level in levels:
            if level < floor:
                glyph, step = " ", -1
            else:
                glyph = BARS[-1] if level >= ceiling else BARS[level % len(BARS)]
                step = level * COLOUR_STEPS // top
            if runs and runs[-1][1] == step:
                runs[-1] = (runs[-1][0] + glyph, step)
            else:
                runs.append((glyph, step))
        rows.append(runs)
    return rows


def percent(done: int, total: int) -> float:
    return min(max(done / total, 0.0), 1.0) if total else 0.0


class Spark(NamedTuple):
    name: str
    data: tuple[float, ...]
    figures: str


class Shown(NamedTuple):
    """Everything the widget draws: when it equals the last one, nothing is redrawn."""

    sparks: tuple[Spark, ...]
    epoch_done: float
    run_done: float


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _figures(window: Window, best: float | None, pattern: str, with_best: bool = True) -> str:
    text = f"now {_fmt(window.current, pattern)}  mean {_fmt(window.mean, pattern)}"
    return text + f"  best {_fmt(best, pattern)}" if with_best else text


def sparks(state: RunState) -> tuple[Spark, ...]:
    """loss, the accuracy under its own name when the run has one, then other metrics by name."""
    rows = [Spark("loss", tuple(state.loss_window.finite()), _figures(state.loss_window, state.best_loss, "{:.4f}"))]
    if state.has_accuracy:
        rows.append(Spark(state.accuracy_name, tuple(state.acc_window.finite()),
                          _figures(state.acc_window, state.best_acc, "{:.3f}")))
    for name, window in list(state.metric_windows.items())[:EXTRA_METRICS_SHOWN]:
        pattern = "{:.3f}" if accuracy_like(name) else "{:.4g}"  # an accuracy-like one as the accuracy is
        rows.append(Spark(name, tuple(window.finite()), _figures(window, None, pattern, with_best=False)))
    lr = state.lr_history.all_buckets()
    if lr:  # the whole run so far, not a recent window: a schedule reads over the run
        shown = lr[:: max(1, len(lr) // LR_POINTS)]
        rows.append(Spark("lr", tuple(b.last for b in shown), f"now {lr[-1].last:.3g}  start {lr[0].last:.3g}"))
    return tuple(rows)


class LiveFigures(Widget):
    """loss and acc sparklines (recent window) with now / mean / best, then epoch and run progress.

    One row per sparkline, or three on tall terminals (app.tcss: the widget's height follows its
    `-rows-N` class); a run with loss alone gives it the rows of two."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"live-figures--min", "live-figures--max", "live-figures--bar",
                                             "live-figures--track"}
    DEFAULT_CSS = """
    LiveFigures {
        height: 3;
        & > .live-figures--min { color: $primary 30%; }
        & > .live-figures--max { color: $primary; }
        & > .live-figures--bar { color: $primary; }
        & > .live-figures--track { color: $foreground 15%; }
    }
    """

    shown: Shown = Shown((), 0.0, 0.0)
    _cache_key: tuple | None = None
    _strips: tuple[Strip, ...] = ()
    _palette: tuple[str | None, dict] = (None, {})

    def show(self, state: RunState) -> None:
        """Take the figures from `state`; repaint only if something visible changed."""
        shown = Shown(sparks(state), percent(state.batch + 1, state.bpe), percent(state.step + 1, state.total_steps))
        if shown != self.shown:
            if len(shown.sparks) != len(self.shown.sparks):
                for rows in (3, 4, 5):
                    self.set_class(len(shown.sparks) == rows, f"-rows-{rows}")
            self.shown = shown
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (self.shown, width, height, self.app.theme)
        if key != self._cache_key:
            self._cache_key, self._strips = key, self._build(width, height)
        return self._strips[y] if y < len(self._strips) else Strip.blank(width)

    def _colours(self) -> dict:
        """The component colours over the background, looked up once per theme (a DOM walk each)."""
        if self._palette[0] != self.app.theme:
            base = self.background_colors[1]
            colours = {name: base + self.get_component_styles(f"live-figures--{name}").color
                       for name in ("min", "max", "bar", "track")}
            self._palette = (self.app.theme, colours)
        return self._palette[1]

    def _build(self, width: int, height: int) -> tuple[Strip, ...]:
        rows = self.shown.sparks or (Spark("loss", (), ""),)
        spark_height = max(1, (height - 1) // len(rows))
        name_width = min(MAX_NAME_WIDTH, max(NAME_WIDTH, *(len(row.name) + 1 for row in rows)))
        strips = [strip for row in rows for strip in self._spark(row, name_width, width, spark_height)]
        return (*strips, self._progress(width))

    def _spark(self, spark: Spark, name_width: int, width: int, height: int) -> list[Strip]:
        name, data, figures = spark
        spark_width = max(0, width - name_width - FIGURES_WIDTH)
        colours = self._colours()
        low, high = colours["min"], colours["max"]
        styles: dict[int, Style | None] = {-1: None}
        strips = []
        for row, runs in enumerate(bar_rows(bar_levels(data, spark_width, height), height)):
            label = name if row == 0 else ""
            text = " " + figures if row == 0 else ""
            segments = [Segment(label[: name_width - 1].ljust(name_width))]
            for glyphs, step in runs:
                if step not in styles:
                    styles[step] = Style(color=low.blend(high, step / (COLOUR_STEPS - 1)).rich_color)
                segments.append(Segment(glyphs, styles[step]))
            segments.append(Segment(text.ljust(FIGURES_WIDTH)))
            strips.append(Strip(segments).adjust_cell_length(width))
        return strips

    def _progress(self, width: int) -> Strip:
        colours = self._colours()
        bar, track = Style(color=colours["bar"].rich_color), Style(color=colours["track"].rich_color)
        segments = []
        half = width // 2
        for name, done, span in (("epoch", self.shown.epoch_done, half), (" run", self.shown.run_done, width - half)):
            cells = max(0, span - NAME_WIDTH - PERCENT_WIDTH)
            filled = round(done * cells)
            segments += [Segment(name.ljust(NAME_WIDTH)), Segment("━" * filled, bar),
                         Segment("━" * (cells - filled), track), Segment(f"{round(done * 100)}%".rjust(PERCENT_WIDTH))]
        return Strip(segments).adjust_cell_length(width)
