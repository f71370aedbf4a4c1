"""Snapshots of any model: panels for the layers it has, "the output" is the network's own forward
result, softmax and "predicted" only for a classification's scores, and old logs still open."""

from __future__ import annotations

import json

import numpy as np
import paddle
import pytest
from paddle import nn
from textual.widgets import Static

from mnist_tui import Monitor
from mnist_tui.run import events as ev
from mnist_tui.run.folder import EventTail
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.snapshot_screen import SnapshotScreen


@pytest.fixture
def anyio_backend():
    return "asyncio"


class TwoClassWithSpareHead(nn.Layer):
    """Two classes; the layer defined last is a Dropout of 256 values the forward never returns."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU())
        self.head = nn.Linear(256, 2)
        self.spare = nn.Dropout(0.5)

    def forward(self, x):
        features = self.body(x)
        self.spare(features)
        return self.head(features)


def snapshot_of(net, tmp_path, inputs, acc=0.5, **attach):
    """One snapshot taken by the Monitor in a hand loop of three batches on `inputs`."""
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=3, batch_size=len(inputs), **attach)
    monitor.request_snapshot()
    for _ in range(3):
        net(inputs)
        monitor.batch(0.5, acc)
    monitor.close()
    events = EventTail(monitor.run.path / "events.jsonl").read()[0]
    return next(e for e in events if isinstance(e, ev.SnapshotTaken)), monitor.run.path


async def screen_text(run, snap) -> str:
    app = MnistApp(run.parent, RunController(run))
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(SnapshotScreen([snap], 0))
        await pilot.pause()
        return "\n".join(str(w.render()) for w in app.screen.query(Static))


@pytest.mark.anyio
async def test_the_output_is_the_networks_result_not_the_last_defined_layer(tmp_path):
    paddle.seed(0)
    net = TwoClassWithSpareHead()
    x = paddle.randn([4, 1, 28, 28])
    snap, run = snapshot_of(net, tmp_path, x)
    (output,) = snap.of_kind("output")
    net.eval()
    expected = net(x).numpy()[0]
    np.testing.assert_allclose(output["array"], expected, rtol=1e-5)
    assert output["classification"] and output["predicted"] == int(expected.argmax()) and len(output["softmax"]) == 2
    assert np.load(snap.path)["output"].shape == (2,)
    text = await screen_text(run, snap)
    assert f"predicted {int(expected.argmax())}" in text and "logit" in text


@pytest.mark.anyio
async def test_probabilities_are_not_called_logits(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax())
    x = paddle.randn([4, 1, 28, 28])
    snap, run = snapshot_of(net, tmp_path, x)
    (output,) = snap.of_kind("output")
    probabilities = net(x).numpy()[0]
    assert output["classification"] and output["probabilities"]
    np.testing.assert_allclose(output["softmax"], probabilities, rtol=1e-5)  # not a softmax of a softmax
    text = await screen_text(run, snap)
    assert "probabilities" in text and "logit" not in text
    assert f"predicted {int(probabilities.argmax())}" in text


@pytest.mark.anyio
async def test_a_regression_output_is_a_value_never_softmax(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))
    x = paddle.randn([4, 1, 28, 28])
    snap, run = snapshot_of(net, tmp_path, x, acc=None, task="regression")
    (output,) = snap.of_kind("output")
    assert not output["classification"] and "softmax" not in output and "predicted" not in output
    assert "softmax" not in np.load(snap.path).files
    value = float(net(x).numpy()[0, 0])
    text = await screen_text(run, snap)
    assert f"output {value:.4g}" in text
    assert "softmax" not in text and "%" not in text and "predicted" not in text


def test_a_recorded_regression_with_several_outputs_gets_no_softmax(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
    snap, _ = snapshot_of(net, tmp_path, paddle.randn([4, 1, 28, 28]), task="regression")
    (output,) = snap.of_kind("output")
    assert not output["classification"] and output["shape"] == [3] and len(output["array"]) == 3


def test_kernels_and_maps_of_any_convolution(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Conv1D(1, 4, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 784, 10))
    snap, _ = snapshot_of(net, tmp_path, paddle.randn([4, 1, 784]))
    (kernel,), (feature_map,) = snap.of_kind("kernel"), snap.of_kind("feature_map")
    assert kernel["layer"] == feature_map["layer"] == "0"
    np.testing.assert_allclose(kernel["array"], [net[0].weight.numpy()[0, 0]], rtol=1e-6)  # one row of 5
    assert np.array(feature_map["array"]).shape == (1, 784)


@pytest.mark.anyio
async def test_an_old_log_with_conv1_fields_still_opens(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text('{"config": {"epochs": 1}}')
    softmax = [0.01] * 10
    softmax[7] = 0.91
    old = {"type": "SnapshotTaken", "time": 1.0, "epoch": 1, "batch": 40, "step": 140, "path": str(run / "s.npz"),
           "conv1_kernel": [[0.125] * 5] * 5, "conv2_kernel": [[0.0] * 5] * 5, "conv1_channel": 3,
           "conv1_map": [[0.5] * 28] * 28, "conv2_channel": 5, "conv2_map": [[0.5] * 14] * 14,
           "logits": [0.5 * i - 2 for i in range(10)], "softmax": softmax, "label": 7}
    (run / "events.jsonl").write_text(json.dumps(old) + "\n")
    (snap,) = EventTail(run / "events.jsonl").read()[0]
    assert [(p["kind"], p["layer"]) for p in snap.panels] == [
        ("kernel", "conv1"), ("feature_map", "conv1"), ("kernel", "conv2"), ("feature_map", "conv2"), ("output", "")]
    text = await screen_text(run, snap)
    assert "conv1.weight[0][0]" in text and "+0.125" in text and "conv1 channel 3" in text and "predicted 7" in text
