"""Data parallelism across CPU cores inside one process.

Paddle's CPU kernels for this model use one core whatever the thread setting (each convolution is
an im2col and small matrix products per image), but they release the GIL while they run. So each
shard (the model, and copies of it) has a thread, the batch is cut in parts that the shards run
forward and backward at the same time, and the copies' gradients are summed into the model, whose
optimizer then steps as usual. The loss is a mean, so each part's mean is weighted by its share of
the batch: the summed gradient is the whole batch's gradient, up to float rounding.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import paddle
import paddle.nn.functional as F
from paddle import nn

# Each batch is cut in twice as many parts as there are shards, taken from a shared list: when
# something else (the UI, another process) holds a core up, its thread runs fewer parts instead of
# making the other wait. Measured here with the app running: +14% (median of 4 pairs, better in
# each); headless it costs about 5% (median of 6 pairs, within the machine's noise).
PARTS_PER_SHARD = 2
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


def _eval_shard(model: nn.Layer, x, y, _share: float):
    with paddle.no_grad():  # per thread in Paddle, so it is entered here, in the worker
        logits = model(x)
        loss = F.cross_entropy(logits, y, reduction="none").reshape([-1])
        probs = F.softmax(logits, axis=1)
        return paddle.stack([loss, probs.argmax(axis=1).astype("float32"), probs.max(axis=1)], axis=1)


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
        """Stop the worker threads; the main model alone serves any later call."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._pool, self.replicas = None, []

    def _map(self, fn: Callable, x, y=None) -> list:
        """fn(model, x part, y part or None, share) for every part of the batch, in the parts' order. Each model (the
        main one in this thread, each replica in its own) takes the next part until none is left,
        so a core that something else holds up for a while does fewer parts instead of stalling
        the step. Replicas get the main model's current weights first (a few small copies)."""
        n = x.shape[0]
        parts = min(self.count * PARTS_PER_SHARD if self.replicas else 1, n)  # no empty part
        bounds = [n * i // parts for i in range(parts + 1)]
        todo = collections.deque(range(parts))  # popleft is atomic: the threads share it

        def part(model, i: int):
            a, b = bounds[i], bounds[i + 1]
            return i, fn(model, x[a:b], None if y is None else y[a:b], (b - a) / n)

        def run(model) -> list:
            done = []
            while True:
                try:
                    i = todo.popleft()
                except IndexError:
                    return done
                done.append(part(model, i))

        with paddle.no_grad():
            for replica in self.replicas:
                for src, dst in zip(self.model.parameters(), replica.parameters()):
                    paddle.assign(src, dst)
        first = todo.popleft()  # the main model runs at least one part: its gradients then exist
        futures = [self._pool.submit(run, replica) for replica in self.replicas]
        results = [part(self.model, first)] + run(self.model)
        for future in futures:
            results += future.result()
        return [result for _, result in sorted(results, key=lambda pair: pair[0])]

    def forward_backward(self, x, y):
        """Loss and accuracy of batch (x, y); leaves the batch's gradient in the main model.
        Gradients add up over the parts a model ran (backward accumulates)."""
        results = self._map(_train_shard, x, y)
        with paddle.no_grad():
            for replica in self.replicas:
                for param, copy in zip(self.model.parameters(), replica.parameters()):
                    if copy.grad is not None:  # None until a replica's first part
                        param.grad.add_(copy.grad)
                replica.clear_gradients()
        loss = paddle.add_n([loss for loss, _ in results])
        acc = paddle.add_n([acc for _, acc in results])
        return loss, acc

    def per_image(self, x, y):
        """[n, 3] device tensor, without gradients: each image's cross-entropy, predicted class and
        its softmax probability, in the batch's order."""
        return paddle.concat(self._map(_eval_shard, x, y))
