"""Activation statistics of layer outputs, computed on the device in float32 (whatever the model's
dtype) and fetched as one small array, so a refresh costs one host sync whatever the number of
layers."""

from __future__ import annotations

import math

import numpy as np
import paddle

# Per-layer statistics, in the order of the fetched array's columns.
STAT_KEYS = ("mean", "std", "min", "max", "zero_frac", "dead_frac")
# Weights whose root mean square is below this have no scale to compare an update with.
RATIO_FLOOR = 1e-8


def call_moments(outputs: list[paddle.Tensor], channel_axis: int = 1) -> tuple[paddle.Tensor, paddle.Tensor]:
    """What adds up over every call of a layer: [count, sum, sum of squares, non-zeros, min, max],
    and each channel's largest |value| (a channel is the `channel_axis` entry: 1 for N, C, ...
    outputs, -1 for features last). Calls with the same channel count share their channels (a
    layer called twice has the same units); otherwise each call's channels count on their own.

    Chosen for cost, since the app refreshes statistics while training: on conv1's [64, 20, 28, 28]
    output, a cast to bool counts the non-zeros 6 times faster than comparing with 0, and the
    channel peaks need no transpose.
    """
    moments, peaks = [], []
    for out in outputs:
        x = out.detach().astype("float32")
        axis = channel_axis % x.ndim
        sums = [paddle.full([], float(x.size), dtype="float32"), x.sum(), (x * x).sum(),
                x.astype("bool").astype("float32").sum()]
        peaks.append(x.abs().max(axis=[a for a in range(x.ndim) if a != axis]))
        moments.append(paddle.stack([*sums, x.min(), x.max()]))
    if len(moments) == 1:
        return moments[0], peaks[0]
    m = paddle.stack(moments)
    combined = paddle.concat([m[:, :4].sum(axis=0), m[:, 4:5].min(axis=0), m[:, 5:6].max(axis=0)])
    same = len({p.shape[0] for p in peaks}) == 1
    return combined, paddle.stack(peaks).max(axis=0) if same else paddle.concat(peaks)


def activation_stats(layers: list[tuple[paddle.Tensor, paddle.Tensor]]) -> paddle.Tensor:
    """[n_layers, 6] tensor on the device from each layer's `call_moments`: mean, std, min, max,
    share of zeros, share of dead channels (exactly zero for every sample and position of the batch)."""
    rows = []
    for m, peaks in layers:
        count, total, squares, nonzero = m[0], m[1], m[2], m[3]
        mean = total / count
        std = (squares / count - mean * mean).clip(min=0.0).sqrt()
        dead = (peaks == 0).astype("float32").mean()
        rows.append(paddle.stack([mean, std, m[4], m[5], 1.0 - nonzero / count, dead]))
    return paddle.stack(rows)


def update_ratio(rms_change: float, rms_weights: float) -> tuple[float | None, str]:
    """log10 of a step's update over the weights' scale, or None and why there is none."""
    if not (math.isfinite(rms_change) and math.isfinite(rms_weights)):
        return None, "weights not finite"
    if rms_change == 0:
        return None, "not updated in this step"
    if rms_weights < RATIO_FLOOR:
        return None, "weights were all zero before the step"
    return math.log10(rms_change / rms_weights), ""


def stat_rows(names: list[str], stats: np.ndarray, grad_norms: dict, update_ratios: dict, ratio_notes: dict,
              calls: dict) -> list[dict]:
    rows = []
    for name, values in zip(names, stats):
        row = {"name": name, **{k: float(v) for k, v in zip(STAT_KEYS, values)}}
        row["grad_norm"] = grad_norms.get(name)
        row["update_ratio_log10"] = update_ratios.get(name)
        if name in ratio_notes:
            row["update_ratio_note"] = ratio_notes[name]
        row["calls"] = calls.get(name, 1)
        rows.append(row)
    return rows
