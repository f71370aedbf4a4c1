"""Bounded buffers for streamed metrics, so memory stays flat however long a run is.

Pure Python, no Textual: the app keeps a recent window for the sparklines and a downsampled
full history for the charts, and smooths the history with a debiased exponential average.
"""

from __future__ import annotations

import collections
import math


class Window:
    """The last `size` values, with the figures shown beside a sparkline."""

    def __init__(self, size: int = 200) -> None:
        self.values: collections.deque[float] = collections.deque(maxlen=size)

    def add(self, value: float) -> None:
        self.values.append(value)

    def finite(self) -> list[float]:
        return [v for v in self.values if math.isfinite(v)]

    @property
    def current(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def mean(self) -> float | None:
        finite = self.finite()
        return sum(finite) / len(finite) if finite else None


class History:
    """(x, y) points of a whole run in at most `max_points` points.

    When full, neighbouring points are merged pairwise (mean of x and of y) and later points
    are averaged in buckets twice as wide, so the resolution halves instead of memory growing.
    Non-finite values are kept apart (their x, bounded) so a chart can mark them.
    """

    def __init__(self, max_points: int = 2000, max_nonfinite: int = 200) -> None:
        self.max_points = max_points - max_points % 2
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.nonfinite_xs: collections.deque[float] = collections.deque(maxlen=max_nonfinite)
        self.stride = 1  # raw points per stored point
        self._bucket_x = 0.0
        self._bucket_y = 0.0
        self._bucket_n = 0
        self.count = 0  # raw points seen

    def add(self, x: float, y: float) -> None:
        self.count += 1
        if not math.isfinite(y):
            self.nonfinite_xs.append(x)
            return
        self._bucket_x += x
        self._bucket_y += y
        self._bucket_n += 1
        if self._bucket_n < self.stride:
            return
        self.xs.append(self._bucket_x / self._bucket_n)
        self.ys.append(self._bucket_y / self._bucket_n)
        self._bucket_x = self._bucket_y = 0.0
        self._bucket_n = 0
        if len(self.xs) >= self.max_points:
            self.xs = [(a + b) / 2 for a, b in zip(self.xs[0::2], self.xs[1::2])]
            self.ys = [(a + b) / 2 for a, b in zip(self.ys[0::2], self.ys[1::2])]
            self.stride *= 2

    def points(self) -> tuple[list[float], list[float]]:
        """Stored points plus the partial bucket, so the newest value always shows."""
        if not self._bucket_n:
            return list(self.xs), list(self.ys)
        return self.xs + [self._bucket_x / self._bucket_n], self.ys + [self._bucket_y / self._bucket_n]


SMOOTHING_LEVELS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)


def smooth(values: list[float], beta: float) -> list[float]:
    """Exponential moving average, debiased as in Adam: early points are not pulled towards 0."""
    if beta <= 0:
        return list(values)
    out, avg = [], 0.0
    for t, v in enumerate(values, start=1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**t))
    return out
