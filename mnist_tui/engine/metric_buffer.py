"""Each batch's loss and accuracy, kept on the device and fetched in one host sync at intervals
(no sync a batch). With several ranks the fetch also sums each batch's figures over the ranks,
in the same all-reduce that gathers each rank's time in its steps and their gradient all-reduce.
"""

from __future__ import annotations

import numpy as np
import paddle

from mnist_tui.engine import ranks

STEP_S, ALLREDUCE_S = 0, 1  # columns of the per-rank times


class MetricBuffer:
    def __init__(self, rank: int, world: int, rows: tuple[int, int], batch_size: int) -> None:
        """`rows`: this rank's rows of each batch of `batch_size` (ranks.share)."""
        self.rank, self.world = rank, world
        self.share = (rows[1] - rows[0]) / batch_size  # this rank's figures are weighted by it
        self._values: list = []  # per-batch [loss, acc] device tensors not yet fetched
        self._meta: list = []  # what the loop says of each of those batches (epoch, batch, step, learning rate)
        # Seconds in training steps and in their gradient all-reduce (columns STEP_S, ALLREDUCE_S): this
        # rank's since the last fetch; on rank 0 every rank's, summed at the fetches, until `rank_times`.
        self._own_times = np.zeros(2)
        self._times_by_rank = np.zeros((world, 2))
        self._timed_batches = 0

    def __len__(self) -> int:
        """Batches not yet fetched."""
        return len(self._values)

    def add(self, loss, acc, meta) -> None:
        self._values.append(paddle.stack([loss.detach().reshape([]), acc.reshape([])]))  # detached: frees the graph
        self._meta.append(meta)

    def add_time(self, column: int, seconds: float) -> None:
        self._own_times[column] += seconds

    def fetch(self, link: ranks.Link | None = None, tell_fetch: bool = False) -> list | None:
        """The batches since the last fetch, as (meta, [loss, acc]) pairs, summed over the ranks when
        `link` is given (after telling them FETCH with `tell_fetch`); None on the ranks other than 0,
        whose share went into rank 0's sums. A lost rank raises RankLost from the sum: the batches
        stay, for rank 0 to fetch as its own share."""
        values = paddle.stack(self._values).numpy()
        own_times, self._own_times = self._own_times, np.zeros(2)
        if link is not None:
            if tell_fetch:
                link.tell(ranks.FETCH)
            # One all-reduce: the batches' figures weighted by this rank's share, and its own times in its row
            # (in the figures' float32, so they sum exactly as they did alone).
            times = np.zeros((self.world, 2), dtype=values.dtype)
            times[self.rank] = own_times
            weighted = values * self.share
            summed = link.sum(np.concatenate([weighted.ravel(), times.ravel()]))
            if self.rank != 0:
                self._values, self._meta = [], []
                return None
            values = summed[: values.size].reshape(values.shape)
            self._times_by_rank += summed[values.size :].reshape(self.world, 2)
            self._timed_batches += len(values)
        meta = self._meta
        self._values, self._meta = [], []
        return list(zip(meta, values))

    def rank_times(self) -> tuple[int, list[float], list[float]] | None:
        """Rank 0: the batches summed since the last call, and each rank's milliseconds a batch in
        its steps and in their all-reduce (None with one rank or no batch); the count starts again."""
        found = None
        if self.world > 1 and self._timed_batches:
            ms = self._times_by_rank * 1000 / self._timed_batches
            found = (self._timed_batches, [round(float(v), 2) for v in ms[:, STEP_S]],
                     [round(float(v), 2) for v in ms[:, ALLREDUCE_S]])
        self._times_by_rank[:] = 0
        self._timed_batches = 0
        return found
