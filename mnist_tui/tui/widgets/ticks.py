"""Round, evenly spaced axis ticks for the plotext charts.

Left to itself plotext spreads its ticks over the data's exact range and rounds them to rows, so
at 80x24 a loss axis read `3.31 2.79 2.27 1.24`. Here ticks are 1, 2 or 5 times a power of ten
apart, and a y axis's limits are chosen so that every tick falls exactly on a row, the same
number of rows apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: list[float]
    labels: list[str]


def nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `raw` (> 0)."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def row_axis(low: float, high: float, rows: int) -> Axis:
    """A y axis over [low, high] drawn on `rows` rows: at least three ticks from seven rows up,
    a whole number of rows apart (two or more, three on tall charts), with the limits that fill
    the rows best."""
    low, high = _widened(low, high)
    spans = rows - 1
    if spans < 1:
        return _axis(low, high, nice_step(high - low), low)
    best = None
    widest = spans // 2 if spans >= 6 else spans  # a short chart: two ticks that fill it beat three that do not
    for gap in range(min(2 if rows < 16 else 3, widest), widest + 1):  # rows between two ticks
        step = nice_step((high - low) * gap / spans)
        while True:
            bottom = math.floor(low / step + 1e-9) * step
            top = bottom + step * spans / gap
            if top >= high - 1e-9 * step:
                break
            step = nice_step(step * 1.5)  # the next round step
        fill = (high - low) / (top - bottom)
        if best is None or fill > best[0] + 1e-9:
            best = (fill, step, bottom, top)
    _, step, bottom, top = best
    return _axis(bottom, top, step, bottom)


def span_ticks(low: float, high: float, most: int) -> Axis:
    """An x axis over exactly [low, high]: at most `most` round ticks inside it."""
    low, high = _widened(low, high)
    step = nice_step((high - low) / max(most, 1))
    while math.floor(high / step + 1e-9) - math.ceil(low / step - 1e-9) + 1 > most:
        step = nice_step(step * 1.5)  # the next round step
    return _axis(low, high, step, math.ceil(low / step - 1e-9) * step)


def _axis(low: float, high: float, step: float, first: float) -> Axis:
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(0.0 if abs(value) < step / 1e6 else value)  # no "-0.0"
        value = first + len(ticks) * step
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return Axis(low, high, ticks, [f"{t:.{decimals}f}" for t in ticks])


def _widened(low: float, high: float) -> tuple[float, float]:
    """A flat series (one point, or a constant) still gets an axis around its value."""
    if high - low > 1e-12 * max(abs(low), abs(high), 1.0):
        return low, high
    pad = abs(low) * 0.05 or 0.5
    return low - pad, high + pad
