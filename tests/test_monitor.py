"""`mnist_tui.Monitor` on models that are not ours: LeNet under `paddle.Model.fit`, a hand-written
loop, a 53-layer ResNet; their run folders open in the viewer like our own runs."""

from __future__ import annotations

import json
import runpy
import threading
from pathlib import Path

import numpy as np
import paddle
import pytest
from helpers import wait_for, wait_until
from paddle import nn
from paddle.vision.models import LeNet, resnet18
from textual.widgets import Static

from mnist_tui import Monitor
from mnist_tui.run import events as ev
from mnist_tui.run.control import ControlClient, ControlError
from mnist_tui.run.folder import EventTail
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.widgets.layers_tab import LayersTab

EXAMPLES = Path(__file__).parent.parent / "examples"
LENET_LAYERS = ["features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
                "fc.0", "fc.1", "fc.2"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def run_example(script: str, runs: Path) -> Path:
    """The example's main with its command line, in this process: Paddle is imported here already
    (an interpreter of its own would import it again, for seconds)."""
    module = runpy.run_path(str(EXAMPLES / script), run_name=Path(script).stem)
    assert module["main"](["--epochs", "1", "--train-limit", "640", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    return run


def events_of(run: Path) -> list[ev.Event]:
    return EventTail(run / "events.jsonl").read()[0]


def test_hapi_lenet_example_writes_a_run_with_lenets_layers(tmp_path):
    run = run_example("hapi_lenet.py", tmp_path)
    events = events_of(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert [row["name"] for row in started.layers] == LENET_LAYERS
    shapes = {row["name"]: row["output_shape"] for row in started.layers}
    assert shapes["features.0"] == [64, 6, 28, 28] and shapes["fc.2"] == [64, 10]
    assert started.layers[0]["hyper"]["kernel"] == [3, 3] and started.layers[0]["param_shapes"]["weight"] == [6, 1, 3, 3]
    stats = next(e for e in events if isinstance(e, ev.LayerStats))
    assert [row["name"] for row in stats.layers] == LENET_LAYERS
    assert stats.layers[0]["grad_norm"] > 0 and stats.layers[1]["min"] >= 0  # a ReLU
    assert sum(isinstance(e, ev.BatchMetrics) for e in events) == 10
    (val,) = [e for e in events if isinstance(e, ev.EvalResult) and e.split == "val"]
    assert val.size == 1000  # the images the network saw in eval mode: the example's 1,000 test images
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "done"
    assert json.loads((run / "config.json").read_text())["config"]["batch_size"] == 64  # learnt at the first batch


def test_hand_loop_example_writes_a_run(tmp_path):
    events = events_of(run_example("hand_loop.py", tmp_path))
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert [row["name"] for row in started.layers] == [str(i) for i in range(8)]  # nn.Sequential's names
    assert sum(isinstance(e, ev.BatchMetrics) for e in events) == 10
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "done"


def test_viewer_controls_reach_model_fit_at_batch_ends(tmp_path):
    paddle.seed(0)
    images = np.random.default_rng(0).standard_normal((64 * 40, 1, 28, 28)).astype("float32")
    labels = np.random.default_rng(1).integers(0, 10, (64 * 40, 1)).astype("int64")
    data = paddle.io.TensorDataset([paddle.to_tensor(images), paddle.to_tensor(labels)])
    model = paddle.Model(LeNet())
    model.prepare(paddle.optimizer.Adam(parameters=model.parameters()), nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    monitor = Monitor(runs_dir=tmp_path, stats_every=0)
    fit = threading.Thread(target=model.fit, kwargs={"train_data": data, "epochs": 50, "batch_size": 64, "verbose": 0,
                                                     "callbacks": [monitor]})
    fit.start()
    try:
        wait_until(lambda: monitor.run is not None and any(isinstance(e, ev.RunStarted) for e in events_of(monitor.run.path)),
             "the run started")
        client = ControlClient(monitor.run.path)
        client.send("request_snapshot")
        wait_until(lambda: any(isinstance(e, ev.SnapshotTaken) for e in events_of(monitor.run.path)), "a snapshot")
        snap = next(e for e in events_of(monitor.run.path) if isinstance(e, ev.SnapshotTaken))
        assert [p["layer"] for p in snap.of_kind("kernel")] == ["features.0", "features.3"]
        assert np.array(snap.of_kind("kernel")[0]["array"]).shape == (3, 3) and Path(snap.path).is_file()
        client.send("request_snapshot", "fc.1")  # LeNet's middle linear layer, picked
        wait_until(lambda: sum(isinstance(e, ev.SnapshotTaken) for e in events_of(monitor.run.path)) == 2, "a picked one")
        picked = [e for e in events_of(monitor.run.path) if isinstance(e, ev.SnapshotTaken)][-1]
        (vector,), (matrix,) = picked.of_kind("vector"), picked.of_kind("matrix")
        assert picked.picked == "fc.1" and vector["size"] == len(vector["array"]) == 84
        assert np.array(matrix["array"]).shape == (28, 40)
        with pytest.raises(ControlError, match="no convolution or linear layer named 'features.1'"):
            client.send("request_snapshot", "features.1")  # a ReLU
        client.send("toggle_pause")
        wait_until(lambda: monitor.log and any(isinstance(e, ev.StatusChanged) and e.status == "paused"
                                         for e in events_of(monitor.run.path)), "paused")
        with pytest.raises(ControlError, match="validates on its own schedule"):
            client.send("request_validation")
        client.send("request_checkpoint")
        client.send("toggle_pause")
        wait_until(lambda: any(isinstance(e, ev.CheckpointSaved) for e in events_of(monitor.run.path)), "a checkpoint")
        client.send("stop")
        fit.join(60)
        assert not fit.is_alive(), "stop ends the fit"
    finally:
        monitor.stop()
        fit.join(60)
    events = events_of(monitor.run.path)
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "stopped"
    assert sum(isinstance(e, ev.BatchMetrics) for e in events) < 50 * 40
    checkpoint = next(e for e in events if isinstance(e, ev.CheckpointSaved))
    assert Path(checkpoint.path).is_file()


@pytest.mark.anyio
async def test_a_53_layer_resnet_scrolls_in_the_layers_tab_at_80x24(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Conv2D(1, 3, 1), resnet18(num_classes=10))
    opt = paddle.optimizer.SGD(learning_rate=0.01, parameters=net.parameters())
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=2, batch_size=8, stats_every=1)
    for _ in range(2):
        x = paddle.randn([8, 1, 28, 28])
        loss = nn.functional.cross_entropy(net(x), paddle.randint(0, 10, [8, 1]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        monitor.batch(loss)
    monitor.close()
    started = next(e for e in events_of(monitor.run.path) if isinstance(e, ev.RunStarted))
    assert monitor.stats_every == 1 and started.config["stats_every"] == 1
    assert [e.step for e in events_of(monitor.run.path) if isinstance(e, ev.LayerStats)] == [0, 1]  # every batch
    names = [row["name"] for row in started.layers]
    assert len(names) >= 30 and "1.layer4.1.bn2" in names
    app = MnistApp(tmp_path, RunController(monitor.run.path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await pilot.press("2")
        tab = screen.query_one(LayersTab)
        await wait_for(pilot, lambda: "1.layer4.1.bn2" in str(screen.query_one("#stats-table", Static).render()),
                       "all the layers' statistics shown")
        assert tab.max_scroll_y > len(names) - 20, "the tab scrolls through them"
        await pilot.press("end")
        await wait_for(pilot, lambda: tab.scroll_y == tab.max_scroll_y > 0, "at the end",
                       now=lambda: (tab.scroll_y, tab.max_scroll_y))
        # The long names push the last columns (output shape, parameters) past 80 columns: they scroll sideways.
        structure = str(screen.query_one("#structure-table", Static).render())
        assert "1.fc" in structure and "[8, 10]" in structure
        assert tab.max_scroll_x > 0 and tab.scroll_x == 0
        await pilot.press(*["right"] * 10)
        await wait_for(pilot, lambda: tab.scroll_x > 0, "scrolled sideways")


def test_the_final_model_answers_while_a_viewer_is_attached(tmp_path):
    paddle.seed(0)
    net = LeNet()
    opt = paddle.optimizer.Adam(parameters=net.parameters())
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=2, batch_size=16)
    for _ in range(2):
        loss = nn.functional.cross_entropy(net(paddle.randn([16, 1, 28, 28])), paddle.randint(0, 10, [16, 1]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        monitor.batch(loss)
    viewer = ControlClient(monitor.run.path)
    viewer.connect()
    closing = threading.Thread(target=monitor.close)
    closing.start()
    wait_until(lambda: any(isinstance(e, ev.Finished) for e in events_of(monitor.run.path)), "finished")
    viewer.send("request_snapshot")
    wait_until(lambda: any(isinstance(e, ev.SnapshotTaken) for e in events_of(monitor.run.path)), "a snapshot after the end")
    stats = [e for e in events_of(monitor.run.path) if isinstance(e, ev.LayerStats)][-1]
    assert all(row["update_ratio_log10"] is None for row in stats.layers), "no step: no update ratio"
    assert closing.is_alive(), "held while the viewer looks"
    viewer.close()
    closing.join(10)
    assert not closing.is_alive(), "the viewer gone, close() returns"


@pytest.mark.anyio
async def test_a_model_without_convolutions_snapshots_without_maps(tmp_path):
    from mnist_tui.tui.screens.snapshot_screen import SnapshotScreen

    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=3, batch_size=8)
    monitor.request_snapshot()
    for _ in range(3):
        net(paddle.randn([8, 1, 28, 28]))
        monitor.batch(0.5, 0.1)
    monitor.close()
    snap = next(e for e in events_of(monitor.run.path) if isinstance(e, ev.SnapshotTaken))
    assert [p["kind"] for p in snap.panels] == ["output"] and len(snap.panels[0]["array"]) == 10
    app = MnistApp(tmp_path, RunController(monitor.run.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: any(isinstance(s, RunScreen) for s in app.screen_stack), "the run view")
        app.push_screen(SnapshotScreen([snap], 0))
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen) and app.screen.query("#map-0"),
                       "the snapshot view")
        assert "(no convolution)" in str(app.screen.query_one("#map-0", Static).render())
        assert "predicted" in str(app.screen.query_one("#output-bars", Static).render())
