"""Look inside any `paddle.nn.Layer` tree while someone else's loop trains it (Model.fit, a
hand-written loop): forward post hooks catch each leaf layer's output, parameter hooks each
gradient's norm, and a copy of the weights taken when the probe is armed gives the update ratio.

The probe is armed at the end of a batch and read at the end of the next one, so it never touches
a forward pass already under way and costs nothing on the batches nobody asked about.
"""

from __future__ import annotations

import math

import numpy as np
import paddle
from paddle import nn

from . import inspect


def leaf_layers(model: nn.Layer) -> list[tuple[str, nn.Layer]]:
    """Layers with no sub-layers, named as Paddle names them ("features.0", "fc.2")."""
    return [(name, layer) for name, layer in model.named_sublayers() if not list(layer.children())]


def hyper_params(layer: nn.Layer) -> dict:
    """Kernel, stride, padding and sizes for any convolution, pooling or linear layer."""
    if isinstance(layer, nn.Linear):
        return {"in": layer.weight.shape[0], "out": layer.weight.shape[1]}
    found = {}
    for key, attrs in (("kernel", ("_kernel_size", "ksize", "kernel_size")), ("stride", ("_stride", "stride")),
                       ("padding", ("_padding", "padding")), ("in", ("_in_channels",)), ("out", ("_out_channels",))):
        value = next((getattr(layer, a) for a in attrs if getattr(layer, a, None) is not None), None)
        if value is not None and not callable(value):
            found[key] = list(value) if isinstance(value, (list, tuple)) else value
    return found


class LayerProbe:
    def __init__(self, model: nn.Layer) -> None:
        self.model = model
        self.leaves = leaf_layers(model)
        self.weighted = [(name, layer) for name, layer in self.leaves if getattr(layer, "weight", None) is not None]
        self.outputs: dict[str, paddle.Tensor] = {}
        self.grad_sq: dict[str, paddle.Tensor] = {}
        self._weights_before: dict[str, paddle.Tensor] = {}
        self._handles: list = []

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self, track_updates: bool = True) -> None:
        """Catch the next forward's outputs and backward's gradients; `track_updates`: also the
        weights now, for the update ratio of the step to come (not when no step will come)."""
        if self.armed:
            return
        self.outputs, self.grad_sq = {}, {}
        with paddle.no_grad():
            self._weights_before = ({name: layer.weight.clone() for name, layer in self.weighted}
                                    if track_updates else {})
        for name, layer in self.leaves:
            self._handles.append(layer.register_forward_post_hook(self._keep_output(name)))
        for name, layer in self.weighted:
            for param in layer.parameters(include_sublayers=False):
                if not param.stop_gradient:
                    self._handles.append(param.register_hook(self._keep_grad(name)))

    def _keep_output(self, name: str):
        def hook(_layer, _inputs, output):
            if isinstance(output, paddle.Tensor) and name not in self.outputs:
                self.outputs[name] = output.detach()
        return hook

    def _keep_grad(self, name: str):
        def hook(grad):
            square = (grad.detach().astype("float32") ** 2).sum()
            self.grad_sq[name] = self.grad_sq[name] + square if name in self.grad_sq else square
        return hook

    def disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def facts(self) -> list[dict]:
        """The layer table: type, hyper-parameters, parameter shapes and count, output shape (from
        the outputs caught, so call it after an armed forward)."""
        rows = []
        for name, layer in self.leaves:
            params = {p_name: list(p.shape) for p_name, p in layer.named_parameters(include_sublayers=False)}
            out = self.outputs.get(name)
            rows.append({"name": name, "type": type(layer).__name__, "hyper": hyper_params(layer),
                         "param_shapes": params, "param_count": int(sum(math.prod(s) for s in params.values())),
                         "output_shape": list(out.shape) if out is not None else []})
        return rows

    def stats(self) -> list[dict]:
        """Activation statistics of the caught outputs, gradient norms and update ratios, in one
        host sync (the same figures as the course trainer's, see inspect.py)."""
        names = [name for name, _ in self.leaves if name in self.outputs and self.outputs[name].ndim >= 2]
        if not names:
            return []
        with paddle.no_grad():
            moments = inspect.layer_moments([(n, self.outputs[n]) for n in names])
            parts = [inspect.activation_stats([moments]).reshape([-1])]
            grads = [n for n, _ in self.weighted if n in self.grad_sq]
            ratios = []
            for name, layer in self.weighted:
                old = self._weights_before.get(name)
                if old is not None:
                    ratio = inspect.population_std(layer.weight - old) / (inspect.population_std(old) + 1e-12)
                    ratios.append((name, paddle.log10(ratio + 1e-30)))
            if grads:
                parts.append(paddle.sqrt(paddle.stack([self.grad_sq[n] for n in grads])))
            if ratios:
                parts.append(paddle.stack([r for _, r in ratios]))
            flat = paddle.concat(parts).numpy()
        n = len(names) * len(inspect.STAT_KEYS)
        grad_norms = dict(zip(grads, map(float, flat[n : n + len(grads)])))
        update = dict(zip([r for r, _ in ratios], map(float, flat[n + len(grads):])))
        return inspect.stat_rows(names, flat[:n].reshape(len(names), -1), grad_norms, update)

    def snapshot(self, rng) -> dict:
        """The first two convolutions' kernels and a random channel of their outputs for sample 0,
        and the last layer's output as logits: the arrays a SnapshotTaken event shows."""
        convs = [(n, layer) for n, layer in self.leaves if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose))]
        arrays, shown = {}, {}
        for slot, (name, layer) in zip(("conv1", "conv2"), convs[:2]):
            weight = layer.weight.numpy()
            arrays[f"{name}.weight"] = weight
            out = self.outputs.get(name)
            channel = rng.randrange(out.shape[1]) if out is not None else 0
            if out is not None:
                arrays[f"{name}.output"] = out[0].numpy()
            shown[slot] = (name, weight[0, 0], channel, out[0, channel].numpy() if out is not None else np.zeros((1, 1)))
        last = self.outputs.get(self.leaves[-1][0]) if self.leaves else None
        logits = last[0].reshape([-1]).numpy() if last is not None else np.zeros(1)
        arrays["logits"] = logits
        arrays["softmax"] = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        return {"arrays": arrays, "shown": shown}
