"""SVG snapshots of each tab and of the snapshot view at 80x24, fed with fixed events (no training,
so the pictures are stable). Update with `pytest tests/test_app_snapshots.py --snapshot-update`."""

from __future__ import annotations

import math

import numpy as np
from textual import work

from mnist_tui.config import TrainConfig
from mnist_tui.engine import events as ev
from mnist_tui.engine.rundir import RunDir
from mnist_tui.engine.session import Session
from mnist_tui.tui.app import MnistApp

LAYERS = [
    ("conv1", "Conv2D", {"kernel": [5, 5], "stride": [1, 1], "padding": 2, "in": 1, "out": 20},
     {"weight": [20, 1, 5, 5], "bias": [20]}, [64, 20, 28, 28]),
    ("relu1", "ReLU", {}, {}, [64, 20, 28, 28]),
    ("pool1", "MaxPool2D", {"kernel": 2, "stride": 2}, {}, [64, 20, 14, 14]),
    ("conv2", "Conv2D", {"kernel": [5, 5], "stride": [1, 1], "padding": 2, "in": 20, "out": 20},
     {"weight": [20, 20, 5, 5], "bias": [20]}, [64, 20, 14, 14]),
    ("relu2", "ReLU", {}, {}, [64, 20, 14, 14]),
    ("pool2", "MaxPool2D", {"kernel": 2, "stride": 2}, {}, [64, 20, 7, 7]),
    ("flatten", "Flatten", {}, {}, [64, 980]),
    ("fc", "Linear", {"in": 980, "out": 10}, {"weight": [980, 10], "bias": [10]}, [64, 10]),
]


CONFUSION = [[98 if t == p else 0 for p in range(10)] for t in range(10)]
CONFUSION[4][9], CONFUSION[4][4] = 6, 92
CONFUSION[7][2], CONFUSION[7][7] = 3, 95


def digit_image(seed: int) -> str:
    """A ring, shifted by the seed: a stand-in digit whose picture is stable."""
    r, c = np.mgrid[0:28, 0:28]
    ring = np.abs(np.hypot(r - 14, c - 12 - seed) - 8) < 2.5
    return (ring * 255).astype(np.uint8).tobytes().hex()


def layer_stats(dead: float) -> list[dict]:
    return [{"name": n, "mean": 0.1 * i, "std": 0.5 + dead, "min": 0.0 if "relu" in n else -1.0, "max": 2.0 + i,
             "zero_frac": 0.5 if "relu" in n else 0.0, "dead_frac": dead if n in ("relu2", "pool2") else 0.0,
             "grad_norm": 0.5 if n in ("conv1", "conv2", "fc") else None,
             "update_ratio_log10": -3.0 if n in ("conv1", "conv2", "fc") else None}
            for i, (n, *_rest) in enumerate(LAYERS)]


def fixed_events() -> list[ev.Event]:
    layers = [{"name": n, "type": t, "hyper": h, "param_shapes": p, "output_shape": o,
               "param_count": sum(math.prod(s) for s in p.values())} for n, t, h, p, o in LAYERS]
    config = {"batch_size": 64, "weight_decay": 0.0, "stats_every": 100}
    out: list[ev.Event] = [ev.RunStarted("runs/fixed", "CPU", config, 2, 100, 6400, 1000, layers),
                           ev.StatusChanged("running")]
    for step in range(150):
        loss = 2.3 * math.exp(-step / 30) + 0.05 + 0.03 * math.sin(step)
        out.append(ev.BatchMetrics(step // 100, step % 100, step, loss, 1 - loss / 2.5, 600.0, step / 10))
    out.append(ev.EvalResult("val", 0, 100, 100, 0.21, 0.93, 0.30, 0.91, 0.20, 0.935, 1000, 6400, "fine",
                             "Fine: train 93.50% vs validation 93.00%, gap +0.50 points (noise ±1.14)."))
    out.append(ev.EvalResult("val", 1, 40, 140, 0.15, 0.95, 0.12, 0.975, 0.08, 0.98, 1000, 6400, "over-fitting",
                             "Over-fitting: train 98.00% vs validation 95.00%, gap +3.00 points (above 2.00)."))
    out.append(ev.Mistakes(1, 40, 140, CONFUSION, [
        {"index": 17 * i, "label": label, "pred": pred, "confidence": conf, "image": digit_image(i)}
        for i, (label, pred, conf) in enumerate([(4, 9, 0.97), (7, 2, 0.91), (5, 3, 0.88), (8, 1, 0.75)])]))
    for refresh in range(12):  # relu2 dies a little more at each refresh
        step = 12 * refresh
        out.append(ev.LayerStats(step // 100, step % 100, step, layer_stats(dead=refresh / 11)))
    grid = lambda size: [[math.sin(r / 3) * math.cos(c / 4) for c in range(size)] for r in range(size)]
    softmax = [0.01] * 10
    softmax[7] = 0.91
    out.append(ev.SnapshotTaken(1, 40, 140, "runs/fixed/snapshots/snapshot-001-step0000140.npz",
                                [[0.1 * (r - c) for c in range(5)] for r in range(5)],
                                [[0.01 * (r + c) for c in range(5)] for r in range(5)],
                                3, grid(28), 5, grid(14), [0.5 * i - 2 for i in range(10)], softmax, 7))
    out.append(ev.StatusChanged("paused"))
    return out


class FixedApp(MnistApp):
    """The app with the fixed events in place of a training worker. They are emitted from the worker
    because MnistApp.on_mount starts it once the app's queue is subscribed (Textual calls every
    class's on_mount, so an override here would run before that)."""

    @work(thread=True)
    def _train(self) -> None:
        for event in fixed_events():
            self.session.bus.emit(event)


def make_app(tmp_path) -> FixedApp:
    return FixedApp(Session(TrainConfig(epochs=2), RunDir.create(tmp_path, "fixed")))


async def settle(pilot) -> None:
    """Let frames drain the events, then draw the visible chart now rather than on the chart timer."""
    await pilot.pause(0.3)
    pilot.app._charts_dirty |= {"history-chart", "validation-chart"}
    pilot.app._replot()
    await pilot.pause(0.8)


def test_training_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("1")  # focuses the log, as a tab switch does
        await settle(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_layers_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_validation_tab(snap_compare, tmp_path):
    async def run_before(pilot):
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=run_before)


def scrolled_to(key: str, widget: str, top: bool = False):
    """A run_before that shows a tab and scrolls it until `widget` is in view."""
    async def run_before(pilot):
        await pilot.press(key)
        await settle(pilot)
        pilot.app.query_one(widget).scroll_visible(animate=False, top=top)
        await pilot.pause(0.3)
    return run_before


def test_layers_tab_scrolled_to_the_health_map(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=scrolled_to("2", "#health-map"))


def test_validation_tab_scrolled_to_the_mistakes(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24),
                        run_before=scrolled_to("3", "#mistakes-title", top=True))


def test_validation_tab_wide(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=scrolled_to("3", "#diagnosis"))


def test_snapshot_view(snap_compare, tmp_path):
    async def open_view(pilot):
        await settle(pilot)
        await pilot.press("2", "o", "enter")
        await pilot.pause(0.3)

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=open_view)
