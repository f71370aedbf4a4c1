"""Data parallelism across CPU cores inside one process.

Paddle's CPU kernels for this model use one core whatever the thread setting (each convolution is
an im2col and small matrix products per image), but they release the GIL while they run. So a
batch is cut into shards that go forward and backward at the same time on copies of the model, one
thread each; their gradients are summed into the main model, whose optimizer then steps as usual.
The loss is a mean, so each shard's mean is weighted by its share of the batch: the summed
gradient is the whole batch's gradient, up to float rounding.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import paddle
import paddle.nn.functional as F
from paddle import nn

MAX_AUTO_SHARDS = 4  # only 2 were measured (on a 2-core machine); more shards mean smaller matrices


def auto_shard_count(device: str, batch_size: int) -> int:
    """One shard per available core on the CPU (at most MAX_AUTO_SHARDS); one on a GPU, which
    parallelises inside its kernels."""
    if device != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTO_SHARDS, batch_size))


def _enter_dygraph(device: str) -> None:
    # Paddle keeps the graph mode per thread: each worker thread starts in dygraph on our device.
    paddle.disable_static()
    paddle.set_device(device)


def _train_shard(model: nn.Layer, x, y, share: float):
    logits = model(x)
    loss = F.cross_entropy(logits, y) * share
    loss.backward()
    return loss.detach(), paddle.metric.accuracy(logits, y) * share


def _eval_shard(model: nn.Layer, x, y, share: float):
    with paddle.no_grad():  # per thread in Paddle, so it is entered here, in the worker
        logits = model(x)
        loss = F.cross_entropy(logits, y, reduction="sum")
        correct = (logits.argmax(axis=1, keepdim=True) == y).astype("float32").sum()
        return paddle.stack([loss.reshape([]), correct])


class Shards:
    """The main model plus `len(replicas)` copies, each run by its own worker thread."""

    def __init__(self, model: nn.Layer, replicas: list[nn.Layer], device: str) -> None:
        self.model = model
        self.replicas = replicas
        self._pool = ThreadPoolExecutor(len(replicas), thread_name_prefix="shard", initializer=_enter_dygraph,
                                        initargs=(device,)) if replicas else None

    @property
    def count(self) -> int:
        return 1 + len(self.replicas)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _map(self, fn: Callable, x, y) -> list:
        """fn(model, x part, y part, share) on every shard at once; the main model takes the first
        part in this thread. Replicas get the main model's current weights first (a few small copies)."""
        n = x.shape[0]
        parts = min(self.count, n)  # no empty shard when a batch is smaller than the shard count
        bounds = [n * i // parts for i in range(parts + 1)]
        replicas = self.replicas[: parts - 1]
        with paddle.no_grad():
            for replica in replicas:
                for src, dst in zip(self.model.parameters(), replica.parameters()):
                    paddle.assign(src, dst)
        futures = [
            self._pool.submit(fn, replica, x[a:b], y[a:b], (b - a) / n)
            for replica, a, b in zip(replicas, bounds[1:], bounds[2:])
        ]
        first = fn(self.model, x[: bounds[1]], y[: bounds[1]], bounds[1] / n)
        return [first] + [future.result() for future in futures]

    def forward_backward(self, x, y):
        """Loss and accuracy of batch (x, y); leaves the batch's gradient in the main model."""
        results = self._map(_train_shard, x, y)
        with paddle.no_grad():
            for replica in self.replicas[: len(results) - 1]:
                for param, copy in zip(self.model.parameters(), replica.parameters()):
                    param.grad.add_(copy.grad)
                replica.clear_gradients()
        loss = paddle.add_n([loss for loss, _ in results])
        acc = paddle.add_n([acc for _, acc in results])
        return loss, acc

    def loss_and_correct_sums(self, x, y):
        """[summed cross-entropy, number correct] of (x, y) as one device tensor, without gradients."""
        return paddle.add_n(self._map(_eval_shard, x, y))
