"""Data for the corpus scripts: a few batches of the bundled MNIST, or seeded synthetic arrays.
Nothing is downloaded; each script says in its header what it used instead of its source's data."""

from __future__ import annotations

import functools

import numpy as np
import paddle


@functools.cache
def _mnist():
    from mnist_tui.engine.data import load_mnist

    return load_mnist()


def mnist(train: int, val: int, dtype: str = "float32"):
    """(train images, train labels), (val images, val labels): [n, 1, 28, 28] scaled to [-1, 1], int64 [n, 1]."""
    data = _mnist()
    pick = lambda split, n: (split.images[:n].astype(dtype), split.labels[:n].astype("int64")[:, None])
    return pick(data.train, train), pick(data.val, val)


def dataset(x: np.ndarray, y: np.ndarray) -> paddle.io.TensorDataset:
    return paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])


class PaddleLogs(paddle.callbacks.Callback):
    """What Model.fit itself reports to its callbacks: every train and eval batch's logs, each
    evaluation's final logs. The corpus tests compare the run folder with these."""

    def __init__(self) -> None:
        super().__init__()
        self.train: list[dict] = []
        self.eval_batches: list[list[dict]] = []
        self.evals: list[dict] = []

    def on_train_batch_end(self, step, logs=None):
        self.train.append(dict(logs or {}))

    def on_eval_begin(self, logs=None):
        self.eval_batches.append([])

    def on_eval_batch_end(self, step, logs=None):
        self.eval_batches[-1].append(dict(logs or {}))

    def on_eval_end(self, logs=None):
        self.evals.append(dict(logs or {}))
