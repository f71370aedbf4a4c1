"""Bounded buffers for streamed metrics, so memory stays flat however long a run is.

Pure Python, no Textual: the app keeps a recent window for the sparklines and a downsampled
full history for the charts, smoothed with a debiased exponential average.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass


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


SMOOTHING_LEVELS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)


@dataclass
class Bucket:
    """Consecutive points merged: their extremes, so a spike survives any merging, and the newest
    point's value and smoothed values."""

    x: float  # the newest point's
    low: float
    high: float
    last: float
    smoothed: list[float]  # at the newest point, one per SMOOTHING_LEVELS (none for a history kept unsmoothed)

    def take(self, newer: Bucket) -> None:
        self.x, self.last, self.smoothed = newer.x, newer.last, newer.smoothed
        self.low, self.high = min(self.low, newer.low), max(self.high, newer.high)


class History:
    """A whole run in at most `max_points` buckets.

    When full, neighbouring buckets are merged pairwise and later points go into buckets twice as
    wide, so the resolution halves instead of memory growing. Each bucket keeps its min and max
    (a one-batch spike shows at any run length) and its last value. Smoothing is computed on every
    point as it comes, at each level a user can pick, so a smoothed curve is the same whatever
    the run's length. Non-finite values are kept apart (their x, bounded) so a chart can mark them.
    """

    def __init__(self, max_points: int = 2000, max_nonfinite: int = 200, smoothed: bool = True) -> None:
        """`smoothed`: False for a series no chart smooths (the learning rate), which then skips
        the averages every point would otherwise update."""
        self.max_points = max_points - max_points % 2
        self.buckets: list[Bucket] = []
        self.nonfinite_xs: collections.deque[float] = collections.deque(maxlen=max_nonfinite)
        self.stride = 1  # points per stored bucket
        self.count = 0  # points seen
        self._levels = SMOOTHING_LEVELS if smoothed else ()
        self._averages = [0.0] * len(self._levels)
        self._finite = 0
        self._open_n = 0  # points in the bucket being filled, whose figures follow
        self._x = self._low = self._high = self._last = 0.0

    def add(self, x: float, y: float) -> None:
        self.count += 1
        if not math.isfinite(y):
            self.nonfinite_xs.append(x)
            return
        self._finite += 1
        self._averages = [beta * avg + (1 - beta) * y for beta, avg in zip(self._levels, self._averages)]
        if self._open_n:
            self._low, self._high = min(self._low, y), max(self._high, y)
        else:
            self._low = self._high = y
        self._x, self._last = x, y
        self._open_n += 1
        if self._open_n < self.stride:
            return
        self.buckets.append(self._open_bucket())
        self._open_n = 0
        if len(self.buckets) >= self.max_points:
            for older, newer in zip(self.buckets[0::2], self.buckets[1::2]):
                older.take(newer)
            self.buckets = self.buckets[0::2]
            self.stride *= 2

    def _open_bucket(self) -> Bucket:
        # Debiased as in Adam: early points are not pulled towards 0.
        smoothed = [avg / (1 - beta**self._finite) for beta, avg in zip(self._levels, self._averages)]
        return Bucket(self._x, self._low, self._high, self._last, smoothed)

    def all_buckets(self) -> list[Bucket]:
        """Stored buckets plus the one filling, so the newest value always shows."""
        return self.buckets + [self._open_bucket()] if self._open_n else list(self.buckets)
