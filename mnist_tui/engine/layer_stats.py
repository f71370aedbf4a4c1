"""Activation statistics of layer outputs, computed on the device and fetched as one small array,
so a refresh costs one host sync whatever the number of layers."""

from __future__ import annotations

import numpy as np
import paddle

# Per-layer statistics, in the order of the fetched array's columns.
STAT_KEYS = ("mean", "std", "min", "max", "zero_frac", "dead_frac")


def population_std(x: paddle.Tensor) -> paddle.Tensor:
    """Standard deviation from the first two moments: Paddle's `std` takes 10 times longer (it goes
    through a type-promotion path, which also logs a warning on every call)."""
    mean = x.mean()
    return ((x * x).mean() - mean * mean).clip(min=0.0).sqrt()


def layer_moments(outputs: list[tuple[str, paddle.Tensor]]) -> list[tuple[paddle.Tensor, paddle.Tensor]]:
    """Per stage, what adds up across parts of a batch: [count, sum, sum of squares, non-zeros,
    min, max], and each channel's largest |value| (so the parts can run on different cores).

    Chosen for cost, since the app refreshes statistics while training: on conv1's [64, 20, 28, 28]
    output, a cast to bool counts the non-zeros 6 times faster than comparing with 0, and the
    channel peaks need no transpose.
    """
    moments = []
    for _, out in outputs:
        x = out.detach().astype("float32")
        sums = [paddle.full([], float(x.size)), x.sum(), (x * x).sum(), x.astype("bool").astype("float32").sum()]
        peaks = x.abs().max(axis=[0, *range(2, x.ndim)])  # a flat [N, F] output: each feature is a channel
        moments.append((paddle.stack([*sums, x.min(), x.max()]), peaks))
    return moments


def activation_stats(parts: list[list[tuple[paddle.Tensor, paddle.Tensor]]]) -> paddle.Tensor:
    """[n_layers, 6] tensor on the device from the `layer_moments` of each part of a batch: mean,
    std, min, max, share of zeros, share of dead channels (exactly zero for every sample and
    position of the batch)."""
    rows = []
    for layer in zip(*parts):
        m = paddle.stack([moments for moments, _ in layer])
        peaks = paddle.stack([peaks for _, peaks in layer]).max(axis=0)
        count, total, squares, nonzero = (m[:, i].sum() for i in range(4))
        mean = total / count
        std = (squares / count - mean * mean).clip(min=0.0).sqrt()
        dead = (peaks == 0).astype("float32").mean()
        rows.append(paddle.stack([mean, std, m[:, 4].min(), m[:, 5].max(), 1.0 - nonzero / count, dead]))
    return paddle.stack(rows)


def stat_rows(names: list[str], stats: np.ndarray, grad_norms: dict, update_ratios: dict) -> list[dict]:
    rows = []
    for name, values in zip(names, stats):
        row = {"name": name, **{k: float(v) for k, v in zip(STAT_KEYS, values)}}
        row["grad_norm"] = grad_norms.get(name)
        row["update_ratio_log10"] = update_ratios.get(name)
        rows.append(row)
    return rows
