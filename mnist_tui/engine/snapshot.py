"""Snapshots of layer contents for sample 0 of a batch, for any model: a list of panels, each one
layer's array of one kind. The full arrays go to `snapshots/*.npz` in the run folder, readable
slices to the event.

Panel kinds: `kernel` (a convolution's weight[0][0]), `feature_map` (one channel of its output),
`vector` (a linear layer's outputs), `matrix` (its weights as block means) and `output` (the
network's own forward result, sample 0; with softmax and the predicted class only when the
output is a classification's, one score per class). By default the first two convolutions are
shown; a viewer may pick any convolution (it and the next) or linear layer instead.
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import paddle

from mnist_tui.engine.probe import CONVOLUTIONS, LayerProbe
from mnist_tui.run.events import SnapshotTaken

# A linear weight matrix is shown as block means of at most this many rows and columns: it fits
# 80 columns next to the output.
MATRIX_CELLS = (28, 40)
VALUES_SHOWN = 100  # values of a vector or of the output in the event (all of them in the .npz)
PROBABILITY_SUM = 1e-3  # scores in [0, 1] summing to 1 within this are probabilities already


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


def as_numpy(tensor: paddle.Tensor) -> np.ndarray:
    """A tensor's values as float32 numpy (float16 and bfloat16 included; integers as they are)."""
    return (tensor if not tensor.is_floating_point() else tensor.astype("float32")).numpy()


def plane(array: np.ndarray) -> tuple[np.ndarray, str]:
    """A 2-D slice to draw: leading axes at index 0 (a Conv3D's), a 1-D array as one row; and the
    indices taken, as "[0]"."""
    taken = ""
    while array.ndim > 2:
        array, taken = array[0], taken + "[0]"
    return np.atleast_2d(array), taken


def is_classification(output: np.ndarray, task: str | None) -> bool:
    """One score per class: the recorded task says so, else the output is [batch, classes], classes > 1."""
    if task:
        return task == "classification"
    return output.ndim == 2 and output.shape[1] > 1 and np.issubdtype(output.dtype, np.floating)


def output_panel(output: np.ndarray, where: str, task: str | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The network's output for sample 0, and the arrays to save."""
    values = (output[0] if output.ndim else output).reshape(-1)
    panel = {"kind": "output", "layer": "", "element": where, "shape": list(output.shape[1:]),
             "size": int(values.size), "array": values[:VALUES_SHOWN].tolist(), "classification": False}
    arrays = {"output": values}
    if is_classification(output, task) and values.size > 1:
        scores = values.astype(np.float64)
        probabilities = bool(scores.min() >= 0 and scores.max() <= 1 and abs(scores.sum() - 1) <= PROBABILITY_SUM)
        softmax = scores if probabilities else np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        arrays["softmax"] = softmax
        panel.update(classification=True, probabilities=probabilities, predicted=int(np.argmax(softmax)),
                     softmax=softmax[:VALUES_SHOWN].tolist())
    return panel, arrays


class Snapshots:
    """Numbered snapshot files in `folder`; the channels shown are drawn from a seeded generator."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.count = 0
        self.rng = random.Random(seed)

    def take(self, probe: LayerProbe, outputs: dict[str, paddle.Tensor], position: tuple[int, int, int],
             layer: str = "", label: int = -1, image: np.ndarray | None = None,
             task: str | None = None) -> SnapshotTaken:
        """Write the snapshot of `outputs` (each layer's output, batch first) and of the network's
        output the probe caught, and return its event. `layer`: the picked layer ("" = the first
        two convolutions); `task`: the run's recorded task (None: told from the output's shape)."""
        check_layer(probe, layer)
        convs = [n for n in probe.snapshot_layers() if isinstance(probe.layer(n), CONVOLUTIONS)]
        shown = convs[convs.index(layer):][:2] if layer in convs else [] if layer else convs[:2]
        panels, arrays = [], {}
        for name in shown:
            panels += self._convolution(name, probe.layer(name), outputs.get(name), arrays)
        if layer and layer not in convs:  # a linear layer: its outputs and its weights, outputs as rows
            panels += self._linear(layer, probe.layer(layer), outputs.get(layer), arrays)
        output, where = probe.network_output()
        if output is not None:
            panel, saved = output_panel(as_numpy(output.detach()), where, task)
            panels.append(panel)
            arrays.update(saved)
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
        return SnapshotTaken(epoch, batch, step, str(path), panels, label, picked=layer)

    def _convolution(self, name: str, conv, out: paddle.Tensor | None, arrays: dict) -> list[dict]:
        weight = as_numpy(conv.weight)
        arrays[f"{name}.weight"] = weight
        kernel, taken = plane(weight)
        panels = [{"kind": "kernel", "layer": name, "index": taken, "array": kernel.tolist()}]
        if out is not None:
            sample = as_numpy(out[0])
            if str(getattr(conv, "_data_format", "NC")).endswith("C"):  # channels last (NHWC, NLC)
                sample = np.moveaxis(sample, -1, 0)
            arrays[f"{name}.output"] = sample
            channel = self.rng.randrange(sample.shape[0])
            grid, taken = plane(sample[channel])
            panels.append({"kind": "feature_map", "layer": name, "channel": channel, "index": taken,
                           "array": grid.tolist()})
        return panels

    @staticmethod
    def _linear(name: str, linear, out: paddle.Tensor | None, arrays: dict) -> list[dict]:
        weight = as_numpy(linear.weight)
        arrays[f"{name}.weight"] = weight
        panels = []
        if out is not None:
            values = as_numpy(out[0]).reshape(-1)
            arrays[f"{name}.output"] = values
            panels.append({"kind": "vector", "layer": name, "size": int(values.size),
                           "array": values[:VALUES_SHOWN].tolist()})
        panels.append({"kind": "matrix", "layer": name, "shape": list(weight.shape),
                       "array": block_means(weight.T, *MATRIX_CELLS).tolist()})
        return panels
