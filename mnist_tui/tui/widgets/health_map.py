"""Layer health over time: one row per layer, one cell per statistics refresh, so the moment a layer
starts dying (or its gradients vanish) shows as a change along its row.

Each cell has a bar height by level as well as a colour, so the map reads without colour too.
"""

from __future__ import annotations

import math

from rich.text import Text

from mnist_tui.tui.widgets.heatmap import colour_of

METRICS = (
    ("dead_frac", "dead share"),
    ("std", "activation std"),
    ("grad_norm", "gradient norm"),
    ("update_ratio_log10", "log10 update/weight"),
)
RAMP = "▁▂▃▄▅▆▇█"  # every level is visible, so its colour shows too (a space would hide it)
LOG_SCALED = ("std", "grad_norm")  # spread over decades: compared on log10
MISSING = ("·", "dim")  # a figure the layer does not have, e.g. the gradient norm of a ReLU
NOT_FINITE = ("x", "bold red")
EMPTY = "No statistics yet: r takes them."
HINT = "m: next figure"
MAX_CELL = 3  # characters per refresh while few refreshes leave room


def _bad_colour(t: float) -> str:
    """Green → yellow → red: for the dead share, where high is bad."""
    return f"rgb({int(255 * min(1.0, 2 * t))},{int(200 * min(1.0, 2 - 2 * t))},0)"


def pick_columns(count: int, columns: int) -> list[int]:
    """Indices of the refreshes shown: all if they fit, else evenly spaced ones from the first to the last."""
    if count <= columns:
        return list(range(count))
    if columns <= 1:
        return [count - 1]
    return [round(i * (count - 1) / (columns - 1)) for i in range(columns)]


def _position(value: float | None, metric: str) -> float | None:
    """Where a figure sits on the metric's axis: None if missing, nan if not finite, -inf for values
    at or below zero on a log axis (they count as the lowest level)."""
    if value is None:
        return None
    if not math.isfinite(value):
        return math.nan
    if metric in LOG_SCALED:
        return math.log10(value) if value > 0 else -math.inf
    return value


def _scale_end(value: float, metric: str) -> str:
    if metric == "dead_frac":
        return f"{100 * value:.0f}%"
    if metric in LOG_SCALED:
        return f"{10 ** value:.1e}"
    return f"{value:.2f}"


def _axis(first, last, indent: int, cells: int) -> Text:
    """Epoch of the first column at its left, of the last column ending under the last cell."""
    left, right = f"ep {first.epoch + 1}", f"ep {last.epoch + 1} b {last.batch + 1}"  # counted from 1, as elsewhere
    if first is last:
        line = right
    elif len(left) + 1 + len(right) <= cells:
        line = left + right.rjust(cells - len(left))
    else:
        line = f"{left} → {right}"
    return Text(" " * indent + line, style="dim")


def _legend(metric: str, label: str, span: tuple[float, float] | None, colour) -> Text:
    legend = Text(f"{label}  ")
    if span is None:
        legend.append("no values")
    else:
        legend.append(_scale_end(span[0], metric) + " ")
        for level, char in enumerate(RAMP):
            legend.append(char, style=colour(level / (len(RAMP) - 1)))
        legend.append(" " + _scale_end(span[1], metric))
    legend.append(f"   {HINT}", style="dim")
    return legend


def health_map(history, names: list[str], metric: str, width: int) -> Text:
    """Layers (in `names` order) by statistics refreshes (oldest first), coloured by `metric`; no
    line is wider than `width`."""
    history = list(history)
    if not history:
        return Text(EMPTY[:width])
    label = dict(METRICS)[metric]
    name_width = min(max(map(len, names), default=0) + 1, width // 2)
    shown = [history[i] for i in pick_columns(len(history), max(1, width - name_width))]
    cell = max(1, min(MAX_CELL, (width - name_width) // len(shown)))  # few refreshes: wider cells
    rows = [{row["name"]: row for row in refresh.layers} for refresh in shown]
    grid = [[_position(by_name[name].get(metric) if name in by_name else None, metric) for by_name in rows]
            for name in names]
    finite = [p for line in grid for p in line if p is not None and math.isfinite(p)]
    if metric == "dead_frac":
        span, colour = (0.0, 1.0), _bad_colour
    else:
        span, colour = ((min(finite), max(finite)) if finite else None), colour_of
    lines = []
    for name, line in zip(names, grid):
        text = Text(name[:name_width - 1].ljust(name_width))
        for p in line:
            if p is None:
                text.append(MISSING[0] * cell, MISSING[1])
            elif math.isnan(p):
                text.append(NOT_FINITE[0] * cell, NOT_FINITE[1])
            else:
                lo, hi = span or (p, p)
                t = 0.0 if p == -math.inf else 0.5 if hi == lo else min(1.0, max(0.0, (p - lo) / (hi - lo)))
                text.append(RAMP[min(len(RAMP) - 1, int(t * len(RAMP)))] * cell, style=colour(t))
        lines.append(text)
    lines.append(_axis(shown[0], shown[-1], name_width, len(shown) * cell))
    lines.append(_legend(metric, label, span, colour))
    for line in lines:
        line.truncate(width)
    return Text("\n").join(lines)
