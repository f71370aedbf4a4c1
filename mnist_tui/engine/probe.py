"""Look inside any `paddle.nn.Layer` tree: forward post hooks catch each leaf layer's output,
parameter hooks (or the gradients a loop leaves in place) each layer's gradient norm, and a copy
of the weights taken before a step gives that step's update-to-weight ratio.

Two ways to use it. A loop that is not ours (Model.fit, a hand-written loop) arms the probe at the
end of a batch and reads it at the end of the next one, so it never touches a forward pass already
under way and costs nothing on the batches nobody asked about. Our own trainer keeps the weights
before the step it wants to see, then `look`s at the batch with a no-grad pass.
"""

from __future__ import annotations

import math

import paddle
from paddle import nn

from . import layer_stats

CONVOLUTIONS = (nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)


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
        self.last_ratios: dict[str, float] = {}  # the last step measured, shown until the next one is
        self._weights_before: dict[str, paddle.Tensor] = {}
        self._handles: list = []

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def snapshot_layers(self) -> list[str]:
        """The layers a snapshot can show: convolutions (kernels and feature maps) and linear layers."""
        return [name for name, layer in self.leaves if isinstance(layer, (*CONVOLUTIONS, nn.Linear))]

    def layer(self, name: str) -> nn.Layer:
        return dict(self.leaves)[name]

    def keep_weights(self) -> None:
        """The weights now, for the update ratio of the step to come."""
        with paddle.no_grad():
            self._weights_before = {name: layer.weight.clone() for name, layer in self.weighted}

    def arm(self, track_updates: bool = True) -> None:
        """Catch the next forward's outputs and backward's gradients; `track_updates`: also the
        weights now, for the update ratio of the step to come (False: no step will come, so no
        ratio is shown)."""
        if self.armed:
            return
        self.grad_sq = {}
        if track_updates:
            self.keep_weights()
        else:
            self._weights_before, self.last_ratios = {}, {}
        self._hook_outputs()
        for name, layer in self.weighted:
            for param in layer.parameters(include_sublayers=False):
                if not param.stop_gradient:
                    self._handles.append(param.register_hook(self._keep_grad(name)))

    def _hook_outputs(self) -> None:
        self.outputs = {}
        for name, layer in self.leaves:
            self._handles.append(layer.register_forward_post_hook(self._keep_output(name)))

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

    def look(self, *inputs) -> dict[str, paddle.Tensor]:
        """Every leaf's output for `inputs`, from a no-grad pass with the current weights."""
        self.disarm()
        self._hook_outputs()
        try:
            with paddle.no_grad():
                self.model(*inputs)
        finally:
            self.disarm()
        return self.outputs

    def grads_from_params(self) -> None:
        """Gradient norms from the gradients the last backward left on the parameters (for a loop
        that clears them before its step rather than after)."""
        self.grad_sq = {}
        for name, layer in self.weighted:
            grads = [p.grad for p in layer.parameters(include_sublayers=False) if p.grad is not None]
            if grads:
                self.grad_sq[name] = paddle.add_n([(g.astype("float32") ** 2).sum() for g in grads])

    def facts(self) -> list[dict]:
        """The layer table: type, hyper-parameters, parameter shapes and count, output shape (from
        the outputs caught, so call it after an armed forward or a `look`)."""
        rows = []
        for name, layer in self.leaves:
            params = {p_name: list(p.shape) for p_name, p in layer.named_parameters(include_sublayers=False)}
            out = self.outputs.get(name)
            rows.append({"name": name, "type": type(layer).__name__, "hyper": hyper_params(layer),
                         "param_shapes": params, "param_count": int(sum(math.prod(s) for s in params.values())),
                         "output_shape": list(out.shape) if out is not None else []})
        return rows

    def stats(self) -> list[dict]:
        """Activation statistics of the caught outputs, gradient norms and the update ratios of the
        step since `keep_weights` (else the last ones measured), in one host sync."""
        names = [name for name, _ in self.leaves if name in self.outputs and self.outputs[name].ndim >= 2]
        if not names:
            return []
        with paddle.no_grad():
            moments = layer_stats.layer_moments([(n, self.outputs[n]) for n in names])
            parts = [layer_stats.activation_stats([moments]).reshape([-1])]
            grads = [n for n, _ in self.weighted if n in self.grad_sq]
            ratios = []
            for name, layer in self.weighted:
                old = self._weights_before.get(name)
                if old is not None:
                    ratio = layer_stats.population_std(layer.weight - old) / (layer_stats.population_std(old) + 1e-12)
                    ratios.append((name, paddle.log10(ratio + 1e-30)))
            if grads:
                parts.append(paddle.sqrt(paddle.stack([self.grad_sq[n] for n in grads])))
            if ratios:
                parts.append(paddle.stack([r for _, r in ratios]))
            flat = paddle.concat(parts).numpy()
        self._weights_before = {}
        n = len(names) * len(layer_stats.STAT_KEYS)
        grad_norms = {k: float(v) for k, v in zip(grads, flat[n : n + len(grads)]) if math.isfinite(v)}
        if ratios:
            self.last_ratios = dict(zip([r for r, _ in ratios], map(float, flat[n + len(grads):])))
        return layer_stats.stat_rows(names, flat[:n].reshape(len(names), -1), grad_norms, self.last_ratios)
