"""Heat maps in text: two pixel rows per cell with '▀' (top pixel as foreground colour, bottom as
background), or shade characters without colour, so they stay readable (NO_COLOR, or `h`)."""

from __future__ import annotations

import math

from rich.text import Text

SHADES = " ░▒▓█"


def normalised(grid: list[list[float]]) -> list[list[float]]:
    flat = [v for row in grid for v in row if math.isfinite(v)]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    span = hi - lo or 1.0
    return [[(v - lo) / span if math.isfinite(v) else 0.0 for v in row] for row in grid]


def colour_of(t: float) -> str:
    """Dark blue → red → yellow, a heat scale that also reads as dark → bright."""
    r = int(255 * min(1.0, 2 * t))
    g = int(255 * max(0.0, 2 * t - 1))
    b = int(120 * (1 - t))
    return f"rgb({r},{g},{b})"


def heatmap(grid: list[list[float]], colour: bool = True) -> Text:
    rows = normalised(grid)
    if len(rows) % 2:
        rows.append([0.0] * len(rows[0]))
    text = Text()
    for top, bottom in zip(rows[0::2], rows[1::2]):
        for a, b in zip(top, bottom):
            if colour:
                text.append("▀", style=f"{colour_of(a)} on {colour_of(b)}")
            else:
                text.append(SHADES[min(len(SHADES) - 1, int((a + b) / 2 * len(SHADES)))])
        text.append("\n")
    text.rstrip()
    return text
