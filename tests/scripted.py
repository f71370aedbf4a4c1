"""Scripted runs for UI tests, with no Paddle: fixed events, and a stand-in trainer that holds a
run folder's lock, serves its control channel and writes events as a real one does."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mnist_tui.run import events as ev
from mnist_tui.run import strict_json
from mnist_tui.run.control import COMMANDS
from mnist_tui.run.folder import CONFIG, RunDir
from mnist_tui.run.live import LiveRun

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


FIXED_START = 1_795_000_000.0  # the time of a scripted log's first event

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
    logits = [0.5 * i - 2 for i in range(10)]
    out.append(ev.SnapshotTaken(1, 40, 140, "runs/fixed/snapshots/snapshot-001-step0000140.npz", [
        {"kind": "kernel", "layer": "conv1", "index": "[0][0]", "array": [[0.1 * (r - c) for c in range(5)] for r in range(5)]},
        {"kind": "feature_map", "layer": "conv1", "channel": 3, "index": "", "array": grid(28)},
        {"kind": "kernel", "layer": "conv2", "index": "[0][0]", "array": [[0.01 * (r + c) for c in range(5)] for r in range(5)]},
        {"kind": "feature_map", "layer": "conv2", "channel": 5, "index": "", "array": grid(14)},
        {"kind": "output", "layer": "", "element": "", "shape": [10], "size": 10, "array": logits,
         "classification": True, "probabilities": False, "softmax": softmax, "predicted": 7}], 7))
    out.append(ev.StatusChanged("paused"))
    return out


def loss_only_events() -> list[ev.Event]:
    """A regression under someone else's loop: loss and no metric, validations without accuracy."""
    layers = [{"name": "0", "type": "Linear", "hyper": {"in": 13, "out": 32}, "param_shapes": {"weight": [13, 32]},
               "output_shape": [32, 32], "param_count": 416},
              {"name": "1", "type": "ReLU", "hyper": {}, "param_shapes": {}, "output_shape": [32, 32], "param_count": 0},
              {"name": "2", "type": "Linear", "hyper": {"in": 32, "out": 1}, "param_shapes": {"weight": [32, 1]},
               "output_shape": [32, 1], "param_count": 32}]
    out: list[ev.Event] = [ev.RunStarted("runs/loss-only", "cpu", {"batch_size": 32, "optimizer": "adam"}, 2, 50,
                                         1600, 0, layers, task=ev.REGRESSION, accuracy=""),
                           ev.StatusChanged("running")]
    for step in range(80):
        out.append(ev.BatchMetrics(step // 50, step % 50, step, 30 * math.exp(-step / 20) + 2 + math.sin(step), None,
                                   900.0, step / 20))
    out += [ev.EvalResult("val", 0, 49, 49, 4.75, None, size=400), ev.EvalResult("val", 1, 29, 79, 3.125, None, size=400)]
    return out


def spike_events(batches: int = 100_000, spike_at: int = 70_000, per_epoch: int = 1000) -> list[ev.Event]:
    """A long run whose loss is flat and low but for one batch: what bucketing must not hide."""
    out: list[ev.Event] = [ev.RunStarted("runs/long", "CPU", {"batch_size": 64}, batches // per_epoch, per_epoch,
                                         64 * per_epoch, 1000, []), ev.StatusChanged("running")]
    for step in range(batches):
        loss = 4.0 if step == spike_at else 0.1 + 0.02 * math.sin(step / 7)
        out.append(ev.BatchMetrics(step // per_epoch, step % per_epoch, step, loss, 0.97, 600.0, step / 100))
    return [*out, ev.Finished("done")]


def evaluations_events(count: int = 24, per_epoch: int = 100) -> list[ev.Event]:
    """A run validated `count` times, four times an epoch, accuracy rising from 96.7 % to 99.1 %."""
    out: list[ev.Event] = [ev.RunStarted("runs/evals", "CPU", {"batch_size": 64}, count // 4, per_epoch,
                                         64 * per_epoch, 10_000, []), ev.StatusChanged("running")]
    for i in range(count):
        step = (i + 1) * per_epoch // 4 - 1
        rise = 1 - math.exp(-i / 6)
        val_acc, train_acc = 0.967 + 0.024 * rise, 0.965 + 0.029 * rise
        val_loss, train_loss = 0.11 - 0.08 * rise, 0.115 - 0.095 * rise
        out.append(ev.BatchMetrics(step // per_epoch, step % per_epoch, step, train_loss, train_acc, 600.0, step / 10))
        out.append(ev.EvalResult("val", step // per_epoch, step % per_epoch, step, val_loss, val_acc, train_loss,
                                 train_acc, train_loss, train_acc, 10_000, 10_000, "fine", "Fine."))
    return [*out, ev.Finished("done")]


def write_run(root, name: str, events: list[ev.Event]):
    """A run folder whose trainer has ended, its log written in one go (a long one in a second).
    Events are stamped 10 ms apart from a fixed time, so what a view derives from them is the same
    every time."""
    run = RunDir.create(root, name)
    run.write_json(CONFIG, {"config": events[0].config if isinstance(events[0], ev.RunStarted) else {}})
    lines = (strict_json.dumps({**e.to_json(), "time": FIXED_START + i / 100}) + "\n" for i, e in enumerate(events))
    run.events_path.write_text("".join(lines), encoding="utf-8")
    return run.path


class ScriptedTrainer:
    """Answers controls as the real trainer does, in events: pause and resume change the status,
    statistics, snapshots, validations and checkpoints arrive as their events; every command
    received is kept in `commands`."""

    def __init__(self, root, events=(), name: str = "fixed", config: dict | None = None, serve: bool = True) -> None:
        self.run = RunDir.create(root, name)
        self.run.write_json(CONFIG, {"config": config or {"epochs": 2, "batch_size": 64}})
        self.live = LiveRun(self.run).hold_lock()
        self.live.open_log()
        self.commands: list[str] = []
        self.paused = False
        for event in events:
            self.emit(event)
        if serve:
            self.live.serve(self)

    @property
    def path(self):
        return self.run.path

    def emit(self, event: ev.Event) -> None:
        self.live.bus.emit(event)
        if isinstance(event, ev.StatusChanged):
            self.paused = event.status == "paused"

    def __getattr__(self, name: str):
        if name not in COMMANDS:
            raise AttributeError(name)
        return lambda *argument: self._obey(name, *argument)

    def _obey(self, name: str, layer: str = "") -> None:
        self.commands.append(f"{name} {layer}".strip())
        if name == "toggle_pause":
            self.emit(ev.StatusChanged("running" if self.paused else "paused"))
        elif name == "request_layer_stats":
            self.emit(ev.LayerStats(1, 41, 141, layer_stats(dead=0.0)))
        elif name == "request_snapshot" and layer == "fc":  # a linear layer: its outputs and weights
            snap = next(e for e in fixed_events() if isinstance(e, ev.SnapshotTaken))
            linear = [{"kind": "vector", "layer": "fc", "size": 10, "array": [0.25 * i - 1 for i in range(10)]},
                      {"kind": "matrix", "layer": "fc", "shape": [980, 10],
                       "array": [[math.sin(r + c / 8) for c in range(49)] for r in range(10)]}]
            self.emit(dataclasses.replace(snap, picked="fc", panels=linear + snap.of_kind("output")))
        elif name == "request_snapshot":
            self.emit(next(e for e in fixed_events() if isinstance(e, ev.SnapshotTaken)))
        elif name == "request_validation":
            self.emit(next(e for e in fixed_events() if isinstance(e, ev.EvalResult)))
        elif name == "stop":
            self.emit(ev.CheckpointSaved(str(self.run.checkpoints / "step-0000141.pdparams"), 1, 41, 141))
            self.finish("stopped")

    def finish(self, status: str = "done") -> None:
        self.emit(ev.Finished(status))

    def exit(self) -> None:
        """The trainer process ends: the channel closes and the lock goes."""
        self.live.close()


# Text shaped like markup, as gloo's messages and tracebacks are: shown as markup it would vanish
# ("[bold]") or raise ("[/x]" closes nothing). Every string field a view shows gets some.
MARKUP_LIKE = ("[/x]", "[bold]", "[/paddle/third_party/gloo/pair.cc:576]")
MARKED = "[bold]b[/x]"  # short, for names shown in narrow columns


def markup_like_events() -> list[ev.Event]:
    """`fixed_events` with markup-like text in the layer names, the device, the diagnosis, the
    snapshot, checkpoint and error paths, a status detail, an alert and an error."""
    text = " ".join(MARKUP_LIKE)
    rename = {"conv1": "conv[/x]", "relu2": "relu[bold]", "fc": "fc" + MARKED}
    out = []
    for event in fixed_events():
        if isinstance(event, ev.RunStarted):
            layers = [{**row, "name": rename.get(row["name"], row["name"]), "type": row["type"] + "[/t]"}
                      for row in event.layers]
            event = dataclasses.replace(event, run_dir=f"runs/{text}", device="CPU [/x]", layers=layers,
                                        config={**event.config, "optimizer": MARKED})
        elif isinstance(event, ev.LayerStats):
            event = dataclasses.replace(event, layers=[{**row, "name": rename.get(row["name"], row["name"])}
                                                       for row in event.layers])
        elif isinstance(event, ev.EvalResult):
            event = dataclasses.replace(event, diagnosis=f"Fine {text}")
        elif isinstance(event, ev.SnapshotTaken):
            names = {"conv1": "conv[/x]", "conv2": "conv2[bold]"}
            event = dataclasses.replace(event, path="runs/x/snapshots/snap-[bold].npz", picked=MARKED,
                                        panels=[{**p, "layer": names.get(p["layer"], p["layer"])} for p in event.panels])
        elif isinstance(event, ev.StatusChanged) and event.status == "paused":
            out.append(ev.StatusChanged("running", detail=text))
        out.append(event)
    out += [ev.CheckpointSaved(f"runs/x/{MARKED}.pdparams", 1, 41, 141),
            ev.ErrorRaised(f"RuntimeError: {text}", "Traceback [/x]", f"runs/{MARKED}/run.log"),
            ev.Alert("warning", f"rank 1 said {text}", 1, 41)]
    return out


def screen_text(app) -> str:
    """What the terminal shows now, as plain lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


STATES = ("training", "validating", "paused", "finished", "crashed")


def events_in_state(state: str) -> list[ev.Event]:
    """`fixed_events` (a 2-epoch run of 100 batches, at batch 50 of epoch 2) left in one state. Its
    RunStarted sizes the evaluations, so the ETA counts them. "crashed": the trainer must exit
    without finishing (ScriptedTrainer.exit)."""
    events = fixed_events()[:-1]  # without the final pause
    events[0] = dataclasses.replace(events[0], train_eval_size=6400, test_size=1000)
    if state == "validating":
        return [*events, ev.StatusChanged("validating"), ev.EvalProgress("val", 3000, 7400, 1.5, 16.5)]
    if state == "paused":
        return [*events, ev.StatusChanged("paused")]
    if state == "finished":
        rest = [ev.BatchMetrics(1, step % 100, step, 0.05, 0.98, 600.0, step / 10) for step in range(150, 200)]
        return [*events, *rest, ev.EvalResult("val", 1, 100, 200, 0.12, 0.96, 0.1, 0.97, 0.07, 0.98, 1000, 6400),
                ev.StatusChanged("testing"), ev.EvalResult("test", 2, 0, 200, 0.11, 0.965, size=1000),
                ev.StatusChanged("done"), ev.Finished("done", 0.965, 0.11)]
    return events  # training, crashed
