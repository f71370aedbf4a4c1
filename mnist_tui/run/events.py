"""Typed events the engine emits, the schema's version, and a bus that hands them to subscribers.

Subscribers are callbacks run on the training thread: keep them cheap.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The event schema's version, written in every RunStarted (`schema`), the newest this code reads.
# Raise it when a change would make an older reader misread a log (a field that changes meaning, a
# record readers cannot do without); a new field or event type older readers skip does not need it.
# A log written before versions (main before issue 22) has none: it reads as 0.
SCHEMA_VERSION = 1
UNVERSIONED = 0


@dataclass
class Event:
    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_json(self) -> dict:
        # A shallow copy: json.dumps walks nested lists itself (asdict's deep copy cost more than
        # the rest of a batch's logging).
        return {"type": self.kind, "time": round(time.time(), 3), **vars(self)}


# What a run's network does, recorded in RunStarted.task (and config.json's "task"):
# - "classification": integer labels and one score per class; accuracy, confusion matrix, worst
#   examples and softmax apply.
# - "regression": a real-valued target of the output's shape (MSE, L1); the output is a value.
# - "other": anything else (a sigmoid score, embeddings, a GAN): the output is shown as "output".
# The Monitor infers it from the first batch (labels' dtype, the output's shape), or takes
# Monitor(task=...); our own trainer classifies. Logs written before the field: classification.
CLASSIFICATION, REGRESSION, OTHER = "classification", "regression", "other"
TASKS = (CLASSIFICATION, REGRESSION, OTHER)


def accuracy_like(name: str) -> bool:
    """A metric whose name says it is an accuracy (`acc`, `acc_top5`, `val_accuracy`): a share, shown in %."""
    return name.lower().startswith("acc") or "accuracy" in name.lower()


@dataclass
class RunStarted(Event):
    """A trainer's start. `task` says what the network does (TASKS above): viewers show the
    confusion matrix, worst examples, softmax and "accuracy" words for a classification only."""

    run_dir: str
    device: str  # the device actually used, e.g. "cpu" or "gpu:0 (NVIDIA A100)"
    config: dict
    epochs: int
    batches_per_epoch: int
    train_size: int
    val_size: int
    layers: list[dict]  # static layer info: name, type, hyper, param_shapes, param_count, output_shape
    start_epoch: int = 0
    start_step: int = 0
    ranks: int = 1  # data-parallel processes; statistics and snapshots are rank 0's share of a batch
    task: str = CLASSIFICATION  # one of TASKS: what the network's output is, so viewers pick words and views
    accuracy: str = "acc"  # the metric the app calls accuracy, by its own name ("": the run has none)
    metrics: list[str] = field(default_factory=list)  # every metric, as the training code names them
    train_eval_size: int = 0  # training images each validation also evaluates (the honest gap's side)
    test_size: int = 0  # images the test at the end evaluates
    schema: int = SCHEMA_VERSION  # the event schema the log is written in (UNVERSIONED: before versions)


@dataclass
class StatusChanged(Event):
    status: str  # starting, running, paused, validating, testing, done, stopped, diverged, error
    detail: str = ""


@dataclass
class BatchMetrics(Event):
    """One training batch. Emitted in bursts, each time metrics are fetched from the device."""

    epoch: int
    batch: int  # index within the epoch, from 0
    step: int  # global batch index, from 0
    loss: float
    acc: float | None  # the run's accuracy (RunStarted.accuracy names it); None: the run has none
    images_per_s: float
    elapsed_s: float
    metrics: dict[str, float] = field(default_factory=dict)  # every metric by its own name, accuracy included
    lr: float | None = None  # the optimizer's learning rate for this batch; None: not known (a loop without one)


@dataclass
class EvalProgress(Event):
    """How far an evaluation has got, a few times a second while it runs, so a viewer shows
    progress instead of a frozen header. A validation counts its split and then the fixed training
    subset: `total` is both."""

    split: str  # "val" or "test"
    done: int  # images evaluated so far (finished on the device, not only queued)
    total: int
    seconds: float  # since this evaluation began
    elapsed_s: float = 0.0  # the trainer's clock, as BatchMetrics gives it


@dataclass
class EvalResult(Event):
    """One evaluation. For validation, the training side is measured twice: `running_*` is the
    mean of the training batches since the previous evaluation (weights moving, augmented
    images); `train_*` is a fixed training subset evaluated exactly as validation is (eval mode,
    no augmentation), so only `train_acc - acc` is an honest gap, and the diagnosis uses it."""

    split: str  # "val" or "test"
    epoch: int
    batch: int
    step: int
    loss: float  # the mean over the split's samples
    acc: float | None  # the run's accuracy on the split; None: the run has none
    running_loss: float | None = None
    running_acc: float | None = None
    train_loss: float | None = None
    train_acc: float | None = None
    size: int = 0  # images evaluated
    train_size: int = 0
    verdict: str = ""  # diagnosis.VERDICTS
    diagnosis: str = ""
    metrics: dict[str, float] = field(default_factory=dict)  # every metric by its own name, accuracy included

    @property
    def gap(self) -> float | None:
        return None if self.train_acc is None or self.acc is None else self.train_acc - self.acc


@dataclass
class Mistakes(Event):
    """What the network gets wrong on the validation split at one evaluation."""

    epoch: int
    batch: int
    step: int
    confusion: list[list[int]]  # [true label][predicted] counts
    worst: list[dict]  # highest-loss mistakes: index, label, pred, confidence, image (784 uint8 as hex)


@dataclass
class LayerStats(Event):
    """Activation statistics of every layer at one batch; per-row keys are listed in layer_stats.STAT_KEYS."""

    epoch: int
    batch: int
    step: int
    layers: list[dict]


NO_LAYER = "-"  # the layer name old logs' SnapshotTaken gave a slot the model had no convolution for


@dataclass
class SnapshotTaken(Event):
    """Layer contents for sample 0 of one batch, as panels (engine/snapshot.py names the kinds):
    each a dict with `kind`, `layer` and a 2-D or 1-D `array`, and what that kind needs
    (`channel`, `size`, `classification`, `softmax`, `predicted`, ...)."""

    epoch: int
    batch: int
    step: int
    path: str
    panels: list[dict]
    label: int = -1  # -1 when the loop does not say (a Monitor on someone else's loop)
    picked: str = ""  # the layer a viewer asked for ("": the first two convolutions)

    def of_kind(self, *kinds: str) -> list[dict]:
        return [p for p in self.panels if p.get("kind") in kinds]


def panels_of_old_snapshot(record: dict) -> list[dict]:
    """The panels of a SnapshotTaken written before panels (conv1_*, conv2_*, logits, softmax fields)."""
    panels = []
    for slot in ("conv1", "conv2"):
        name = record.get(f"{slot}_name", slot)
        if name != NO_LAYER and f"{slot}_kernel" in record:
            panels.append({"kind": "kernel", "layer": name, "index": "[0][0]", "array": record[f"{slot}_kernel"]})
            panels.append({"kind": "feature_map", "layer": name, "channel": record.get(f"{slot}_channel", 0),
                           "index": "", "array": record.get(f"{slot}_map", [[0.0]])})
    if record.get("matrix"):
        panels.append({"kind": "vector", "layer": record.get("picked", ""), "size": len(record.get("vector", [])),
                       "array": record.get("vector", [])})
        panels.append({"kind": "matrix", "layer": record.get("picked", ""), "array": record["matrix"]})
    logits, softmax = record.get("logits", []), record.get("softmax", [])
    if logits:
        panels.append({"kind": "output", "layer": "", "element": "", "shape": [len(logits)], "size": len(logits),
                       "array": logits, "classification": True, "probabilities": False, "softmax": softmax,
                       "predicted": max(range(len(softmax)), key=lambda i: softmax[i]) if softmax else 0})
    return panels


@dataclass
class RankTimes(Event):
    """Where each data-parallel rank's time went, per batch, over the batches since the previous
    report (up to the batch at epoch/batch/step). The all-reduce part is gloo's own latency plus
    waiting for slower ranks; the rest of a step (step - all-reduce) is the rank's compute, and the
    rank with the most of it sets everyone's pace. Host clock times: on a GPU both are the time to
    queue the work, not to do it."""

    epoch: int
    batch: int
    step: int
    batches: int
    step_ms: list[float]  # per rank: a whole training step (forward, backward, all-reduce, update)
    allreduce_ms: list[float]  # per rank: the part spent in the gradient all-reduce, waiting included


@dataclass
class CheckpointSaved(Event):
    path: str
    epoch: int
    batch: int
    step: int


@dataclass
class Alert(Event):
    level: str  # "warning" or "error"
    message: str
    epoch: int = 0
    batch: int = 0


@dataclass
class ErrorRaised(Event):
    message: str
    traceback: str = ""
    log_path: str = ""
    part: str = ""  # "": the training failed; else the Monitor's part that failed and is off (training goes on)


@dataclass
class Finished(Event):
    status: str  # done, stopped, diverged, error
    test_acc: float | None = None
    test_loss: float | None = None


def newer_schema(record: dict) -> str | None:
    """The one line a reader says of a RunStarted written in a newer event schema than this code
    knows (it reads no further: a misread would be worse), else None."""
    schema = record.get("schema")
    if record.get("type") != "RunStarted" or not isinstance(schema, int) or schema <= SCHEMA_VERSION:
        return None
    return (f"written by a newer mnist-tui (event schema {schema}; this one reads up to {SCHEMA_VERSION}): "
            "upgrade mnist-tui to read it")


def from_json(record: dict) -> Event | None:
    """Rebuild an event from its events.jsonl record (None for unknown types)."""
    cls = _TYPES.get(record.get("type", "")) or _types().get(record.get("type", ""))
    if cls is None:
        return None
    if cls is BatchMetrics and "metrics" in record and record.keys() <= _BATCH_KEYS:  # most of a log, as written now
        try:
            return BatchMetrics(record["epoch"], record["batch"], record["step"], record["loss"], record["acc"],
                                record["images_per_s"], record["elapsed_s"], record["metrics"], record.get("lr"))
        except KeyError:
            pass  # a hand-made record: the general way below says what it lacks
    if cls is EvalResult and "running_acc" not in record:  # written before the honest gap: train_* were running means
        record = {**record, "running_loss": record.get("train_loss"), "running_acc": record.get("train_acc"),
                  "train_loss": None, "train_acc": None}
    if cls in (BatchMetrics, EvalResult) and "metrics" not in record and not _finite(record.get("acc")):
        record = {**record, "acc": None}  # written before metrics had names: a NaN accuracy meant none
    try:
        if cls is RunStarted and "schema" not in record:
            record = {**record, "schema": UNVERSIONED}
        if cls is SnapshotTaken and "panels" not in record:
            record = {**record, "panels": panels_of_old_snapshot(record)}
        return cls(**{k: v for k, v in record.items() if k in cls.__dataclass_fields__})
    except (TypeError, LookupError, ValueError):  # a damaged or hand-made record without the fields its type needs
        return None


_TYPES: dict[str, type[Event]] = {}
# The fast path above names every field; a field it does not name takes the general way.
_BATCH_KEYS = frozenset({"type", "time", "epoch", "batch", "step", "loss", "acc", "images_per_s", "elapsed_s",
                         "metrics", "lr"})


def _types() -> dict[str, type[Event]]:
    """Event classes by name, found once (a log names one per line)."""
    _TYPES.update({c.__name__: c for c in Event.__subclasses__()})
    return _TYPES


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


Callback = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callback] = []

    def subscribe(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callback) -> bool:
        """Stop calling `callback`; False when it was not subscribed (someone unsubscribed it first)."""
        with self._lock:
            if callback not in self._callbacks:
                return False
            self._callbacks.remove(callback)
            return True

    def emit(self, event: Event) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(event)
