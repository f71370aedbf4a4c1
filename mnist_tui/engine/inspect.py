"""Look inside the network: static layer facts, activation statistics and snapshots of contents.

Statistics are computed on the device and fetched as one small array, so a refresh costs one
host sync whatever the number of layers.
"""

from __future__ import annotations

import math

import numpy as np
import paddle
from paddle import nn

# Per-layer statistics, in the order of the fetched array's columns.
STAT_KEYS = ("mean", "std", "min", "max", "zero_frac", "dead_frac")


def hyper_params(layer: nn.Layer) -> dict:
    if isinstance(layer, nn.Conv2D):
        return {
            "kernel": list(layer._kernel_size),
            "stride": list(layer._stride),
            "padding": layer._padding,
            "in": layer._in_channels,
            "out": layer._out_channels,
        }
    if isinstance(layer, nn.MaxPool2D):
        return {"kernel": layer.ksize, "stride": layer.stride}
    if isinstance(layer, nn.Linear):
        return {"in": layer.weight.shape[0], "out": layer.weight.shape[1]}
    return {}


def describe_layers(model: nn.Layer, batch_size: int) -> list[dict]:
    """Type, hyper-parameters, parameter shapes and counts, output shape from a real forward pass."""
    with paddle.no_grad():
        outputs = model.trace(paddle.zeros([batch_size, 1, 28, 28], dtype="float32"))
    rows = []
    for (name, layer), (_, out) in zip(model.stages(), outputs):
        params = {p_name: list(p.shape) for p_name, p in layer.named_parameters()}
        rows.append(
            {
                "name": name,
                "type": type(layer).__name__,
                "hyper": hyper_params(layer),
                "param_shapes": params,
                "param_count": int(sum(math.prod(s) for s in params.values())),
                "output_shape": list(out.shape),
            }
        )
    return rows


def activation_stats(outputs: list[tuple[str, paddle.Tensor]]) -> paddle.Tensor:
    """[n_layers, 6] tensor on the device: mean, std, min, max, share of zeros, share of dead channels.

    A channel is dead when it is exactly zero for every sample and position of the batch; for a
    flat [N, F] output each feature counts as a channel.
    """
    rows = []
    for _, out in outputs:
        x = out.detach().astype("float32")
        per_channel = x.abs().transpose([1, 0] + list(range(2, x.ndim))).reshape([x.shape[1], -1]).max(axis=1)
        rows.append(
            paddle.stack(
                [
                    x.mean(),
                    x.std(unbiased=False),
                    x.min(),
                    x.max(),
                    (x == 0).astype("float32").mean(),
                    (per_channel == 0).astype("float32").mean(),
                ]
            )
        )
    return paddle.stack(rows)


def stat_rows(names: list[str], stats: np.ndarray, grad_norms: dict, update_ratios: dict) -> list[dict]:
    rows = []
    for name, values in zip(names, stats):
        row = {"name": name, **{k: float(v) for k, v in zip(STAT_KEYS, values)}}
        row["grad_norm"] = grad_norms.get(name)
        row["update_ratio_log10"] = update_ratios.get(name)
        rows.append(row)
    return rows
