"""Snapshots of layer contents: a convolution's kernels and one channel of its feature map, a
linear layer's weight matrix and outputs, and the last layer's output as logits, for sample 0 of
a batch. The full arrays go to `snapshots/*.npz` in the run folder, a readable slice to the event.

By default the first two convolutions are shown (the course's conv1 and conv2); a viewer may pick
any convolution or linear layer instead (the second map is then the next convolution after it).
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import paddle

from .events import NO_LAYER, SnapshotTaken
from .probe import CONVOLUTIONS, LayerProbe

# A linear weight matrix is shown as block means of at most this many rows and columns: it fits
# 80 columns next to the logits.
MATRIX_CELLS = (28, 40)


def block_means(matrix: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """`matrix` shrunk to at most rows x cols by averaging equal blocks (edges dropped)."""
    fy, fx = -(-matrix.shape[0] // rows), -(-matrix.shape[1] // cols)
    h, w = matrix.shape[0] // fy, matrix.shape[1] // fx
    return matrix[: h * fy, : w * fx].reshape(h, fy, w, fx).mean(axis=(1, 3))


def check_layer(probe: LayerProbe, layer: str) -> None:
    """ValueError unless `layer` is "" (the default) or a layer a snapshot can show."""
    names = probe.snapshot_layers()
    if layer and layer not in names:
        raise ValueError(f"no convolution or linear layer named {layer!r} ({', '.join(names)})")


class Snapshots:
    """Numbered snapshot files in `folder`; the channels shown are drawn from a seeded generator."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.count = 0
        self.rng = random.Random(seed)

    def take(self, probe: LayerProbe, outputs: dict[str, paddle.Tensor], position: tuple[int, int, int],
             layer: str = "", label: int = -1, image: np.ndarray | None = None) -> SnapshotTaken:
        """Write the snapshot of `outputs` (each leaf's output, batch first) and return its event.
        `layer`: the picked layer ("" = the first two convolutions)."""
        check_layer(probe, layer)
        convs = [n for n in probe.snapshot_layers() if isinstance(probe.layer(n), CONVOLUTIONS)]
        shown = convs[convs.index(layer):][:2] if layer in convs else [] if layer else convs[:2]
        arrays, maps = {}, []
        for name in shown:
            weight = probe.layer(name).weight.numpy()
            out = outputs.get(name)
            channel = self.rng.randrange(out.shape[1]) if out is not None else 0
            arrays[f"{name}.weight"] = weight
            if out is not None:
                arrays[f"{name}.output"] = out[0].numpy()
            grid = arrays[f"{name}.output"][channel] if out is not None else np.zeros((1, 1))
            maps.append((name, weight.reshape(-1, *weight.shape[-2:])[0].tolist(), channel,
                         np.atleast_2d(grid).tolist()))
        maps += [(NO_LAYER, [[0.0]], 0, [[0.0]])] * (2 - len(maps))
        vector, matrix = [], []
        if layer and layer not in convs:  # a linear layer: its outputs and its weights, outputs as rows
            weight = probe.layer(layer).weight.numpy()
            arrays[f"{layer}.weight"] = weight
            out = outputs.get(layer)
            if out is not None:
                arrays[f"{layer}.output"] = out[0].numpy()
                vector = arrays[f"{layer}.output"].reshape(-1).tolist()
            matrix = block_means(weight.T, *MATRIX_CELLS).tolist()
        last = outputs.get(probe.leaves[-1][0]) if probe.leaves else None
        logits = last[0].reshape([-1]).numpy() if last is not None else np.zeros(1)
        arrays["logits"] = logits
        arrays["softmax"] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        if image is not None:
            arrays["image"], arrays["label"] = image, np.int64(label)
        epoch, batch, step = position
        self.count += 1
        path = self.folder / f"snapshot-{self.count:03d}-step{step:07d}.npz"
        tmp = path.with_name(path.stem + ".tmp.npz")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a link planted there is removed, not written through
        np.savez(tmp, epoch=epoch, batch=batch, step=step, **arrays)
        os.replace(tmp, path)
        (n1, k1, c1, m1), (n2, k2, c2, m2) = maps
        return SnapshotTaken(epoch, batch, step, str(path), k1, k2, c1, m1, c2, m2, logits.tolist(),
                             arrays["softmax"].tolist(), label, conv1_name=n1, conv2_name=n2, picked=layer,
                             vector=vector, matrix=matrix)
