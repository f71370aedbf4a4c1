"""Look inside any `paddle.nn.Layer` tree: forward post hooks catch each layer's output at every
call, parameter hooks (or the gradients a loop leaves in place) each layer's gradient norm, and a
copy of the weights taken before a step gives that step's update-to-weight ratio.

Two ways to use it. A loop that is not ours (Model.fit, a hand-written loop) arms the probe at the
end of a batch and reads it at the end of the next one, so it never touches a forward pass already
under way and costs nothing on the batches nobody asked about. Our own trainer keeps the weights
before the step it wants to see, then `look`s at the batch with a no-grad pass.

A hook never raises into the user's forward or backward: a failure is kept in `failure` (the
traceback) for the caller to report, and the hooks do nothing more until the probe is armed again.
"""

from __future__ import annotations

import math
import traceback

import paddle
from paddle import nn
from paddle.nn.layer.rnn import RNN, BiRNN, RNNBase, RNNCellBase

from mnist_tui.engine import layer_stats

CONVOLUTIONS = (nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)
# Recurrent layers that run their cells inside one fused operator (the cells' own forward is never
# called) or loop over them: the layer itself is the unit looked at, with all its weights.
RECURRENT = (RNNBase, RNN, BiRNN)
# Layers whose output has its features on the last axis (a sequence [N, T, F] included).
FEATURES_LAST = (nn.Linear, nn.Embedding, nn.LayerNorm, RNNCellBase, *RECURRENT)


def leaf_layers(model: nn.Layer) -> list[tuple[str, nn.Layer]]:
    """The layers looked at, named as Paddle names them ("features.0", "fc.2"): those with no
    sub-layers, and recurrent layers as a whole (their cells are not looked at on their own)."""
    units, inside = [], ()
    for name, layer in model.named_sublayers():
        if inside and name.startswith(inside):
            continue
        if isinstance(layer, RECURRENT):
            units.append((name, layer))
            inside = (*inside, name + ".")
        elif not list(layer.children()):
            units.append((name, layer))
    return units


def trainable(layer: nn.Layer) -> list[paddle.Tensor]:
    """The parameters whose gradients and updates a row shows: a recurrent layer's all, else its own."""
    params = layer.parameters(include_sublayers=isinstance(layer, RECURRENT))
    return [p for p in params if not p.stop_gradient]


def weights(layer: nn.Layer) -> list[paddle.Tensor]:
    """The parameters the update ratio compares with: the weights (weight, weight_ih_l0, ...), or
    all parameters where none is called so."""
    named = [(n, p) for n, p in layer.named_parameters(include_sublayers=isinstance(layer, RECURRENT))]
    chosen = [p for n, p in named if n.rsplit(".", 1)[-1].startswith("weight")]
    return chosen or [p for _, p in named]


def first_tensor(output, path: str = "") -> tuple[paddle.Tensor | None, str]:
    """The first tensor in a forward's result (a tensor, or tuples, lists and dicts of them, depth
    first) and where it sits: "" for the result itself, "[0]", "['logits']", "[1][0]"."""
    if isinstance(output, paddle.Tensor):
        return output, path
    items = output.items() if isinstance(output, dict) else enumerate(output) if isinstance(output, (tuple, list)) else ()
    for key, value in items:
        found, where = first_tensor(value, f"{path}[{key!r}]")
        if found is not None:
            return found, where
    return None, path


def _float32_copy(tensor: paddle.Tensor) -> paddle.Tensor:
    """A copy in float32 (`astype` to the same dtype returns the tensor itself, which a step changes)."""
    return tensor.clone() if tensor.dtype == paddle.float32 else tensor.astype("float32")


def detached(output):
    """A forward result with every tensor in it detached, same structure."""
    if isinstance(output, paddle.Tensor):
        return output.detach()
    if isinstance(output, dict):
        return {key: detached(value) for key, value in output.items()}
    if isinstance(output, (tuple, list)):
        values = [detached(value) for value in output]
        return type(output)(*values) if hasattr(output, "_fields") else type(output)(values)  # a namedtuple
    return output


def hyper_params(layer: nn.Layer) -> dict:
    """Kernel, stride, padding and sizes for any convolution, pooling or linear layer."""
    if isinstance(layer, nn.Linear):
        return {"in": layer.weight.shape[0], "out": layer.weight.shape[1]}
    found = {}
    for key, attrs in (("kernel", ("_kernel_size", "ksize", "kernel_size")), ("stride", ("_stride", "stride")),
                       ("padding", ("_padding", "padding")), ("in", ("_in_channels", "input_size")),
                       ("out", ("_out_channels", "hidden_size"))):
        value = next((getattr(layer, a) for a in attrs if getattr(layer, a, None) is not None), None)
        if value is not None and not callable(value):
            found[key] = list(value) if isinstance(value, (list, tuple)) else value
    return found


class LayerProbe:
    def __init__(self, model: nn.Layer, roots: dict[str, nn.Layer] | None = None) -> None:
        """`roots`: the networks whose forward results are "the output" (several for a GAN: the
        first one's is `network_output`); by default `model` itself."""
        self.model = model
        self.roots = roots or {"": model}
        self.leaves = leaf_layers(model)
        self.weighted = [(name, layer) for name, layer in self.leaves if trainable(layer)]
        self.calls: dict[str, list[paddle.Tensor]] = {}  # every call's output, in call order
        self.outputs: dict[str, paddle.Tensor] = {}  # the first call's output
        self.elements: dict[str, str] = {}  # where the output sits in a layer's result ("" or "[0]")
        self.root_output = None  # the first root's first forward result, as returned
        self.grad_sq: dict[str, paddle.Tensor] = {}
        self.last_ratios: dict[str, float] = {}  # the last step measured, shown until the next one is
        self.ratio_notes: dict[str, str] = {}  # why a layer has no update ratio
        self.failure = ""  # the traceback of a hook that failed since the probe was armed
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

    def network_output(self) -> tuple[paddle.Tensor | None, str]:
        """The network's output for the batch caught (armed forward or `look`): the first tensor of
        the first root network's forward result (its first call in the batch), and where it sat in
        that result ("" when the result is a tensor, "[0]" for a tuple's first element,
        "['logits']" for a dict's entry). (None, "") before any forward was caught. Use this, not
        the last-defined layer, for "the output": that may be a Dropout or a head not on the path."""
        if self.root_output is None:
            return None, ""
        return first_tensor(self.root_output)

    def keep_weights(self) -> None:
        """The weights now, for the update ratio of the step to come."""
        with paddle.no_grad():
            self._weights_before = {name: [_float32_copy(w) for w in weights(layer)] for name, layer in self.weighted}

    def arm(self, track_updates: bool = True) -> None:
        """Catch the next forward's outputs and backward's gradients; `track_updates`: also the
        weights now, for the update ratio of the step to come (False: no step will come, so no
        ratio is shown)."""
        if self.armed:
            return
        self.grad_sq, self.failure = {}, ""
        if track_updates:
            self.keep_weights()
        else:
            self._weights_before, self.last_ratios, self.ratio_notes = {}, {}, {}
        self._hook_outputs()
        for name, layer in self.weighted:
            for param in trainable(layer):
                self._handles.append(param.register_hook(self._keep_grad(name)))

    def _hook_outputs(self) -> None:
        self.calls, self.outputs, self.elements, self.root_output = {}, {}, {}, None
        for name, layer in self.leaves:
            self._handles.append(layer.register_forward_post_hook(self._keep_output(name)))
        for root in list(self.roots.values())[:1]:
            self._handles.append(root.register_forward_post_hook(self._keep_root_output))

    def _safely(self, record, *args) -> None:
        """Run a hook's work; a failure is kept, never raised into the user's forward or backward."""
        if self.failure:
            return
        try:
            record(*args)
        except Exception:  # noqa: BLE001 - the user's training goes on
            self.failure = traceback.format_exc()

    def _keep_root_output(self, _layer, _inputs, output):
        if self.root_output is None:
            self._safely(self._set_root_output, output)

    def _set_root_output(self, output) -> None:
        self.root_output = detached(output)  # kept until the next arming: without the graph behind it

    def _keep_output(self, name: str):
        def hook(_layer, _inputs, output):
            self._safely(self._add_output, name, output)
        return hook

    def _add_output(self, name: str, output) -> None:
        tensor, where = first_tensor(output)
        if tensor is not None:
            self.calls.setdefault(name, []).append(tensor.detach())
            self.outputs.setdefault(name, self.calls[name][0])
            self.elements.setdefault(name, where)

    def _keep_grad(self, name: str):
        def hook(grad):
            self._safely(self._add_grad, name, grad)
        return hook

    def _add_grad(self, name: str, grad: paddle.Tensor) -> None:
        square = (grad.detach().astype("float32") ** 2).sum()
        self.grad_sq[name] = self.grad_sq[name] + square if name in self.grad_sq else square

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
            grads = [p.grad for p in trainable(layer) if p.grad is not None]
            if grads:
                self.grad_sq[name] = paddle.add_n([(g.astype("float32") ** 2).sum() for g in grads])

    def facts(self) -> list[dict]:
        """The layer table: type, hyper-parameters, parameter shapes and count, output shape of
        each call (from the outputs caught, so call it after an armed forward or a `look`)."""
        rows = []
        for name, layer in self.leaves:
            own = layer.named_parameters(include_sublayers=isinstance(layer, RECURRENT))
            params = {p_name: list(p.shape) for p_name, p in own}
            calls = self.calls.get(name, [])
            rows.append({"name": name, "type": type(layer).__name__, "hyper": hyper_params(layer),
                         "param_shapes": params, "param_count": int(sum(math.prod(s) for s in params.values())),
                         "output_shape": list(calls[0].shape) if calls else [],
                         "output_shapes": [list(out.shape) for out in calls], "calls": len(calls),
                         "output_element": self.elements.get(name, "")})
        return rows

    def _update_ratios(self) -> list[tuple[str, paddle.Tensor]]:
        """log10 of the step's update relative to the weights' scale, per layer with weights kept:
        root mean square of the change over that of the weights before (so a BatchNorm's constant
        γ = 1 has scale 1), with the weights' scale floored at RATIO_FLOOR."""
        ratios = []
        for name, layer in self.weighted:
            old = self._weights_before.get(name)
            if old:
                new = [w.astype("float32") for w in weights(layer)]
                change = paddle.add_n([((n - o) ** 2).sum() for n, o in zip(new, old)])
                scale = paddle.add_n([(o ** 2).sum() for o in old])
                count = float(sum(o.size for o in old))
                rms_change, rms_scale = (change / count).sqrt(), (scale / count).sqrt()
                ratios.append((name, paddle.stack([rms_change, rms_scale])))
        return ratios

    def stats(self) -> list[dict]:
        """Activation statistics over every call's output, gradient norms and the update ratios of
        the step since `keep_weights` (else the last ones measured), in one host sync. All in
        float32, whatever the model's dtype."""
        names = [name for name, _ in self.leaves if name in self.calls and self.calls[name][0].ndim >= 2]
        if not names:
            return []
        with paddle.no_grad():
            moments = [layer_stats.call_moments(self.calls[n], -1 if isinstance(self.layer(n), FEATURES_LAST) else 1)
                       for n in names]
            parts = [layer_stats.activation_stats(moments).reshape([-1])]
            grads = [n for n, _ in self.weighted if n in self.grad_sq]
            ratios = self._update_ratios()
            if grads:
                parts.append(paddle.sqrt(paddle.stack([self.grad_sq[n] for n in grads])))
            if ratios:
                parts.append(paddle.concat([r for _, r in ratios]))
            flat = paddle.concat([p.astype("float32") for p in parts]).numpy()
        self._weights_before = {}
        n = len(names) * len(layer_stats.STAT_KEYS)
        grad_norms = {k: float(v) for k, v in zip(grads, flat[n : n + len(grads)]) if math.isfinite(v)}
        if ratios:
            pairs = flat[n + len(grads):].reshape(-1, 2)
            self.last_ratios, self.ratio_notes = {}, {}
            for (name, _), (change, scale) in zip(ratios, pairs):
                ratio, note = layer_stats.update_ratio(float(change), float(scale))
                if note:
                    self.ratio_notes[name] = note
                else:
                    self.last_ratios[name] = ratio
        return layer_stats.stat_rows(names, flat[:n].reshape(len(names), -1), grad_norms, self.last_ratios,
                                     self.ratio_notes, {name: len(self.calls[name]) for name in names})
