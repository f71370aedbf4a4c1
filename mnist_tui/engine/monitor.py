"""`mnist_tui.Monitor`: any Paddle model's training in a run folder that `mnist-tui watch` opens.

    model.fit(train, eval, epochs=2, callbacks=[Monitor(runs_dir="runs")])   # paddle.Model

    monitor = Monitor.attach(net, runs_dir="runs", epochs=2, loader=loader)   # a hand-written loop
    for epoch in range(2):
        for x, y in loader:
            ...; monitor.batch(loss, acc)         # epochs counted from len(loader)
        monitor.evaluated(val_loss, val_acc)
    monitor.close()

It writes the same run folder as our own trainer (events, trainer lock, control channel: a
run/live.py LiveRun, as the trainer's), so the viewer shows the model's layers with their shapes,
and `r`, `s`, `c`, `p` and stop reach it at the next batch end: statistics and snapshots of the
next batch (the layer probe is armed between two batches, engine/probe.py), checkpoints through
`paddle.Model.save` (or `paddle.save` of the layer), pause by waiting at the batch end, stop
through `model.stop_training`. On batches nobody asked about, it writes one event line. Its
events go through the LiveRun's event bus, so other sinks read them as they come:
`Monitor(tensorboard="tb")` writes TensorBoard's files too, `sinks=[...]` adds any callable that
takes an event.

It never breaks the training it watches: a failure in one of its parts (statistics, snapshot,
checkpoint, control, event log, a sink) is written to the run (`ErrorRaised` naming the part, the
traceback in run.log), and that part is switched off while the loop goes on.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import paddle
from paddle import nn
from paddle.callbacks import Callback

from mnist_tui.engine.probe import LayerProbe
from mnist_tui.engine.requests import CHECKPOINT, SNAPSHOT, STATS, Controlled, Requests
from mnist_tui.engine.snapshot import Snapshots, check_layer
from mnist_tui.run import checkpoints
from mnist_tui.run.config import AUTO_STATS_EVERY
from mnist_tui.run.control import ControlError
from mnist_tui.run.events import (
    CLASSIFICATION,
    OTHER,
    REGRESSION,
    TASKS,
    BatchMetrics,
    CheckpointSaved,
    ErrorRaised,
    EvalResult,
    Finished,
    LayerStats,
    RunStarted,
    StatusChanged,
    accuracy_like,
)
from mnist_tui.run.folder import CONFIG, RunDir
from mnist_tui.run.live import LiveRun
from mnist_tui.run.status import RunStatus
from mnist_tui.version import __version__


def networks(network) -> tuple[nn.Layer, dict[str, nn.Layer]]:
    """One layer, or several (a list, or a dict of names: a GAN's generator and discriminator, a
    teacher and a student) as one tree whose layers are named "<network>.<layer>", and the
    networks by name. A list's networks are named after their classes (with their position where
    two share one)."""
    if isinstance(network, nn.Layer):
        return network, {"": network}
    if isinstance(network, dict):
        named = {str(name): layer for name, layer in network.items()}
    else:
        kinds = [type(layer).__name__ for layer in network]
        named = {kind if kinds.count(kind) == 1 else f"{kind}{i}": layer for i, (kind, layer) in enumerate(zip(kinds, network))}
    return nn.LayerDict(named), named


def loader_facts(loader) -> tuple[int, int]:
    """Batches per epoch and batch size of a data loader (0 where it does not say)."""
    try:
        steps = len(loader)
    except TypeError:  # an iterable dataset: no length
        steps = 0
    size = getattr(loader, "batch_size", None) or getattr(getattr(loader, "batch_sampler", None), "batch_size", 0)
    return steps, int(size or 0)


def _number(value) -> float | None:
    """A figure from `logs`: Paddle gives lists or arrays of one value."""
    while isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, paddle.Tensor):  # bfloat16's numpy() gives its raw bits as integers
        value = value.detach().astype("float32").numpy()
    return float(np.asarray(value).reshape(-1)[0]) if value is not None else None


def accuracy_name(names: list[str]) -> str:
    """The metric the app calls accuracy: the first whose name says so (`acc`, `acc_top1`,
    `accuracy`); "" when none does."""
    return next((n for n in names if accuracy_like(n)), "")


def _names(metric) -> list[str]:
    """A paddle.metric.Metric's names as Model.fit logs them (one name, or a list for top-k)."""
    names = metric.name()
    return list(names) if isinstance(names, (list, tuple)) else [names]


def _first_tensor(value):
    """The first tensor of a forward result or a loss's inputs (a tensor, tuple, list or dict)."""
    while isinstance(value, (list, tuple, dict)):
        value = next(iter(value.values() if isinstance(value, dict) else value), None)
    return value if isinstance(value, paddle.Tensor) else None


def infer_task(output, labels, loss, has_accuracy: bool) -> str:
    """What the network does, from its first training batch (events.TASKS): integer labels and one
    score per class are a classification; real targets of the output's shape a regression (a
    binary cross-entropy's sigmoid score is neither). Without labels (a hand loop), an accuracy
    and one score per class say classification."""
    out, label = _first_tensor(output), _first_tensor(labels)
    if out is None:
        return OTHER
    scores = out.shape[-1] if len(out.shape) > 1 else 1
    if label is None:
        return CLASSIFICATION if has_accuracy and scores > 1 else OTHER
    if not paddle.is_floating_point(label):
        return CLASSIFICATION if scores > 1 else OTHER
    if "BCE" in type(loss).__name__ or math.prod(label.shape) != math.prod(out.shape):
        return OTHER
    return REGRESSION


class Monitor(Callback, Controlled):
    def __init__(self, runs_dir: str | Path = "runs", name: str | None = None, stats_every: int = AUTO_STATS_EVERY,
                 seed: int = 0, hold_for_viewers: bool = True, task: str | None = None,
                 tensorboard: str | Path | None = None, sinks=()) -> None:
        """`hold_for_viewers`: when training ends while a viewer is attached, wait (answering `r`
        and `s` on the final model) until it leaves or stops the run, as our own trainer does.
        `task`: "classification", "regression" or "other" (events.TASKS); None infers it from the
        first batch. `tensorboard`: a folder for TensorBoard's event files, written as training
        goes (needs `mnist-tui[export]`). `sinks`: callables given every event (run/events.py),
        closed at the end if they have `close`; one that fails is reported and switched off."""
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
        Callback.__init__(self)
        self.requests = Requests()  # what the control channel asked, taken at batch ends
        self.task = task
        self.metric_names: list[str] = []  # as the training code names them, Model.fit's order
        self._accuracy: str | None = None  # Model.fit: the first paddle.metric.Accuracy's first name
        self._task_hooks: list = []
        self._seen_output = self._seen_labels = None
        self._eval_loss_sum, self._eval_count = 0.0, 0
        self.runs_dir, self.name, self.stats_every = Path(runs_dir), name, stats_every
        self.hold_for_viewers = hold_for_viewers
        self.tensorboard, self.sinks = tensorboard, list(sinks)
        self._last_inputs: dict[str, tuple] = {}
        self._input_hooks: list = []
        self.seed = seed
        self.network = None
        self.optimizer = None  # its get_lr() is logged with each batch (Model.fit's own; a hand loop may pass one)
        self.epoch = self.step = self.batch_index = 0  # batch_index: within the epoch
        self.roots: dict[str, nn.Layer] = {}
        self.run: RunDir | None = None
        self.live: LiveRun | None = None  # the run's lock, event bus and log, control channel
        self.off: set[str] = set()  # the parts that failed and are switched off

    @property
    def accuracy(self) -> str:
        """The metric the viewer calls accuracy ("" for none): Model.fit's first Accuracy, else
        the first metric named so."""
        return self._accuracy or accuracy_name(self.metric_names)

    # ---- the run folder ----
    def _open(self, network, config: dict, epochs: int, steps: int | None) -> None:
        self.epochs, self.steps = epochs, steps or 0
        self._t0 = self._t_last = time.perf_counter()
        try:
            self.network, self.roots = networks(network)
            self.run = RunDir.create(self.runs_dir, self.name)
            self.config = config
            self._write_config()
            self.live = LiveRun(self.run, on_failure=self._failed)
            self.live.hold_lock()
            self.live.open_log()
        except Exception as exc:  # noqa: BLE001 - no run folder: the Monitor stays out of the way
            print(f"mnist_tui.Monitor is off, training goes on: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.off.add("monitor")
            return
        self._add_sinks()
        with self._part("statistics"):
            self.probe = LayerProbe(self.network, self.roots)
            self.probe.arm()  # the first batch gives the output shapes and the first statistics
        self.snapshots = Snapshots(self.run.snapshots, self.seed)
        # Each network's newest input in training (a reference, no copy): the final model is inspected on it.
        self._input_hooks = [root.register_forward_pre_hook(self._keep_input(name)) for name, root in self.roots.items()]
        first = next(iter(self.roots.values()))
        if self.task is None:  # the first training batch's output and labels tell the task
            self._task_hooks.append(first.register_forward_post_hook(self._see_output))
            loss = getattr(getattr(self, "model", None), "_loss", None)
            if isinstance(loss, paddle.nn.Layer):
                self._task_hooks.append(loss.register_forward_pre_hook(self._see_labels))
        with self._part("control"):
            self.live.serve(self)
        self._write(StatusChanged(RunStatus.TRAINING.logged))

    def _add_sinks(self) -> None:
        if self.tensorboard is not None:
            with self._part("tensorboard"):
                from mnist_tui.sinks.tensorboard import TensorBoardSink

                self.live.add_sink(TensorBoardSink(self.tensorboard), "tensorboard")
        for sink in self.sinks:  # a function is named as such, an object after its class
            self.live.add_sink(sink, getattr(sink, "__name__", type(sink).__name__))

    # ---- failures: reported, and the part switched off ----
    @contextmanager
    def _part(self, part: str):
        """Run a part of the Monitor; if it fails, report it and switch it off, never raise."""
        try:
            yield
        except Exception:  # noqa: BLE001 - the user's training goes on whatever fails here
            self._failed(part, traceback.format_exc())

    def _failed(self, part: str, trace: str) -> None:
        self.off.add(part)
        message = trace.strip().splitlines()[-1]
        try:
            with open(self.run.log_path, "a", encoding="utf-8") as log:
                log.write(f"mnist_tui.Monitor: the {part} failed and is off; training goes on.\n{trace}\n")
        except (OSError, AttributeError):  # AttributeError: no run folder
            print(f"mnist_tui.Monitor: the {part} failed and is off; training goes on.\n{trace}", file=sys.stderr)
        if part == "statistics" and self.probe is not None:
            self.probe.disarm()
        if self.run is not None:
            self._write(ErrorRaised(message, trace, str(self.run.log_path), part=part))

    def _write(self, event) -> None:
        """To the log and the sinks; one that fails (a full disk, a closed file) is reported and
        switched off by the LiveRun, and the events go on to the others."""
        if self.live is not None:
            self.live.bus.emit(event)

    @property
    def log(self):
        """The run's event log (None before the run folder is made)."""
        return self.live.log if self.live is not None else None

    def _on(self, part: str) -> bool:
        return part not in self.off and "monitor" not in self.off

    def _write_config(self) -> None:
        self.run.write_json(CONFIG, {"config": self.config, "source": type(self).__name__, "task": self.task,
                                     "versions": {"mnist_tui": __version__, "paddle": paddle.__version__}})

    def _keep_input(self, name: str):
        def hook(layer, inputs):
            if layer.training:
                self._last_inputs[name] = inputs
        return hook

    def _see_output(self, layer, _inputs, output):
        if layer.training and self._seen_output is None:
            self._seen_output = output

    def _see_labels(self, _layer, inputs):
        if self._seen_labels is None and next(iter(self.roots.values())).training:
            self._seen_labels = inputs[1:]

    def _settle_task(self) -> None:
        """At the first batch end: the task, from what the hooks saw, and the hooks go."""
        if self.task is None:
            self.task = infer_task(self._seen_output, self._seen_labels, getattr(self.model, "_loss", None),
                                   bool(self.accuracy))
        for hook in self._task_hooks:
            hook.remove()
        self._task_hooks, self._seen_output, self._seen_labels = [], None, None

    def _close(self, status: RunStatus) -> None:
        """The run ends as it does (even after a part failed), its lock and channel released."""
        if self.live is None or self.live.closed:  # no run folder was made, or closed already
            return
        for hook in self._input_hooks:
            hook.remove()
        self._write(Finished(status.logged))
        if self.hold_for_viewers and self._on("control") and self.live.viewers and self._last_inputs and \
                self._on("monitor"):
            with self._part("control"):
                self._serve_final_model()
        if self.probe is not None:
            self.probe.disarm()
        self.live.close()  # the channel, the sinks, the log, then the lock

    # ---- controls (the control channel's thread calls these; pause, resume, stop: requests.Controlled) ----
    def _refuse_if_off(self, *parts: str) -> None:
        for part in parts:
            if not self._on(part):
                what = "Monitor" if "monitor" in self.off else f"Monitor's {part}"
                raise ControlError(f"the {what} failed and is off (the traceback is in run.log)")

    def request_layer_stats(self) -> None:
        self._refuse_if_off("statistics")
        self.requests.ask(STATS)

    def request_snapshot(self, layer: str = "") -> None:
        self._refuse_if_off("statistics", "snapshot")
        check_layer(self.probe, layer)
        self.requests.ask(SNAPSHOT, layer)

    def request_checkpoint(self) -> None:
        self._refuse_if_off("checkpoint")
        self.requests.ask(CHECKPOINT)

    def request_validation(self) -> None:
        raise ControlError("this loop validates on its own schedule (Model.fit: each epoch's end)")

    def toggle_auto_stats(self) -> None:
        self.stats_every = 0 if self.stats_every else AUTO_STATS_EVERY

    # ---- the loop's side ----
    def _batch_end(self, loss, metrics, batch_size: int) -> None:
        """`metrics`: a function giving the batch's figures by name, called here so that a figure
        that cannot be read switches the Monitor off rather than stopping the training."""
        if "monitor" in self.off:
            return
        try:  # not `_part`: this runs at every batch, and a bare try costs nothing
            self._record_batch(loss, metrics(), batch_size)
        except Exception:  # noqa: BLE001 - the user's training goes on
            self._failed("monitor", traceback.format_exc())

    def _record_batch(self, loss, metrics: dict[str, float | None], batch_size: int) -> None:
        now = time.perf_counter()
        rate = batch_size / max(now - self._t_last, 1e-9)
        self._t_last = now
        if self.step == 0:
            with self._part("task inference"):
                self._settle_task()
            self.task = self.task or OTHER  # inference failed: no classification views on a guess
            if not self.config.get("batch_size"):  # Model.fit says it only with the first batch
                self.config["batch_size"] = batch_size
            self._write_config()
            self._write(RunStarted(str(self.run.path), paddle.get_device(), self.config, self.epochs, self.steps,
                                   self.steps * batch_size, 0, self._facts(), task=self.task,
                                   accuracy=self.accuracy, metrics=self.metric_names))
        loss = _number(loss)
        self._write(BatchMetrics(self.epoch, self.batch_index, self.step, float("nan") if loss is None else loss,
                                 metrics.get(self.accuracy), rate, now - self._t0, metrics,
                                 lr=self._lr()))
        if self.probe is not None and self.probe.armed:
            self._write_stats()
        self._snapshot_pending = False
        if self.requests.take(CHECKPOINT) and self._on("checkpoint"):
            with self._part("checkpoint"):
                self._checkpoint()
        self.step += 1
        self.batch_index += 1
        if self.paused and self._on("control"):
            with self._part("control"):
                self._wait_while_paused()
        due = self.stats_every and self.step % self.stats_every == 0
        snapshot = self.requests.take(SNAPSHOT)
        if (due or self.requests.take(STATS) or snapshot) and self._on("statistics"):
            self._snapshot_pending = snapshot
            with self._part("statistics"):
                self.probe.arm()  # for the next batch

    _snapshot_pending = False
    probe = None

    def _facts(self) -> list[dict]:
        with self._part("statistics"):
            if self.probe is not None and self._on("statistics"):
                return self.probe.facts()
        return []

    def _write_stats(self) -> None:
        """The armed batch's statistics, and its snapshot if one was asked for."""
        stats = None
        with self._part("statistics"):
            self.probe.disarm()
            if self.probe.failure:  # a hook failed inside the forward or backward
                self._failed("statistics", self.probe.failure)
            elif self.probe.calls:
                stats = self.probe.stats()
        if stats is None:
            return
        self._write(LayerStats(self.epoch, self.batch_index, self.step, stats))
        if (self.requests.take(SNAPSHOT) or self._snapshot_pending) and self._on("snapshot"):
            with self._part("snapshot"):
                self._snapshot()

    def _wait_while_paused(self) -> None:
        if not self.paused:
            return
        self._write(StatusChanged(RunStatus.PAUSED.logged, "at a batch end; requests are served at the next batch"))
        self.requests.wait_until_running()
        self._t_last = time.perf_counter()
        self._write(StatusChanged(RunStatus.TRAINING.logged))

    def _snapshot(self) -> None:
        self._write(self.snapshots.take(self.probe, self.probe.outputs, (self.epoch, self.batch_index, self.step),
                                        self.requests.snapshot_layer, task=self.task))

    def _checkpoint(self) -> None:
        stem = checkpoints.stem(self.run.checkpoints, self.step)
        if self.model is not None and hasattr(self.model, "save"):
            self.model.save(str(stem))  # paddle.Model: .pdparams and .pdopt
        else:
            paddle.save(self.network.state_dict(), str(stem) + ".pdparams")
        self._write(CheckpointSaved(str(stem) + ".pdparams", self.epoch, self.batch_index, self.step))

    def _serve_final_model(self) -> None:
        """`r` and `s` on the final weights, each network on its last batch, until the last viewer
        leaves or stops."""
        self.live.hold_while_watched(until=lambda: self.stop_requested, each=self._answer_final_model, every=0.05)

    def _answer_final_model(self) -> None:
        """One look of `_serve_final_model`: the requests a viewer made since the last."""
        snapshot = self.requests.take(SNAPSHOT)
        if (snapshot or self.requests.take(STATS)) and self._on("statistics"):
            with self._part("statistics"):
                self.probe.arm(track_updates=False)
                with paddle.no_grad():
                    for name, inputs in self._last_inputs.items():
                        self.roots[name](*inputs)
            self._write_stats()
            if snapshot and self._on("snapshot"):
                with self._part("snapshot"):
                    self._snapshot()
        if self.requests.take(CHECKPOINT) and self._on("checkpoint"):
            with self._part("checkpoint"):
                self._checkpoint()

    def _evaluated(self, loss, metrics, size: int = 0) -> None:
        """`metrics`: a function giving the figures by name (as for `_batch_end`)."""
        if not self._on("monitor"):
            return
        with self._part("monitor"):
            metrics = metrics()
            # Right after an epoch's end: the evaluation belongs to the epoch that ended, as our trainer's.
            epoch, batch = (self.epoch - 1, self._batches_last_epoch) if self.batch_index == 0 and self.step else \
                (self.epoch, self.batch_index)
            loss = _number(loss)
            self._write(EvalResult("val", epoch, batch, self.step, float("nan") if loss is None else loss,
                                   metrics.get(self.accuracy), size=size, metrics=metrics))

    _batches_last_epoch = 0

    def _lr(self) -> float | None:
        """The optimizer's learning rate now (a Python float in Paddle: no device sync); an
        optimizer that cannot say is not asked again."""
        if self.optimizer is None:
            return None
        try:
            return _number(float(self.optimizer.get_lr()))
        except Exception:  # noqa: BLE001 - the run goes on without its learning rate
            self.optimizer = None
            return None

    def _metrics(self, logs: dict) -> dict[str, float | None]:
        return {name: _number(logs.get(name)) for name in self.metric_names}

    # ---- paddle.callbacks.Callback ----
    def on_train_begin(self, logs=None) -> None:
        params = self.params or {}
        config = {"epochs": params.get("epochs"), "batch_size": params.get("batch_size"), "stats_every": self.stats_every,
                  "model": type(self.model.network).__name__}
        try:
            optimizer = self.optimizer = getattr(self.model, "_optimizer", None)
            config.update(optimizer=type(optimizer).__name__.lower() if optimizer else None,
                          lr=float(optimizer.get_lr()) if optimizer else None)
        except Exception:  # noqa: BLE001 - an optimiser that does not say: the run goes on without it
            config.update(optimizer=None, lr=None)
        self.metric_names = [n for n in self.model._metrics_name() if n != "loss"]  # the names Model.fit logs
        accuracies = [m for m in self.model._metrics if isinstance(m, paddle.metric.Accuracy)]
        if accuracies:  # whatever it is called (Accuracy(name="top")): Paddle's own accuracy
            self._accuracy = next(iter(_names(accuracies[0])), None)
        self._open(self.model.network, config, params.get("epochs") or 0, params.get("steps"))

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch, self.batch_index = epoch, 0

    def on_train_batch_end(self, step, logs=None) -> None:
        logs = logs or {}
        self._batch_end(logs.get("loss"), lambda: self._metrics(logs), logs.get("batch_size") or self.params.get("batch_size") or 1)
        if self.stop_requested:
            self.model.stop_training = True

    def on_eval_begin(self, logs=None) -> None:
        self._eval_loss_sum, self._eval_count = 0.0, 0

    def on_eval_batch_end(self, step, logs=None) -> None:
        """Model.fit's logs hold the newest batch's loss: the mean over the split is taken here,
        weighted by batch size (its metrics Paddle accumulates over the split itself)."""
        if self.run is None or not self._on("monitor"):
            return
        with self._part("monitor"):
            logs = logs or {}
            loss, size = _number(logs.get("loss")), int(logs.get("batch_size") or 0)
            if loss is not None:
                self._eval_loss_sum += loss * size
                self._eval_count += size

    def on_eval_end(self, logs=None) -> None:
        if self.run is not None:  # evaluate() outside fit has no run folder
            loss = self._eval_loss_sum / self._eval_count if self._eval_count else None
            self._evaluated(loss, lambda: self._metrics(logs or {}), self._eval_count)

    def on_train_end(self, logs=None) -> None:
        self._close(RunStatus.STOPPED if self.stop_requested else RunStatus.FINISHED)

    # ---- hand-written loops ----
    @classmethod
    def attach(cls, network, runs_dir: str | Path = "runs", epochs: int = 1, steps_per_epoch: int = 0,
               batch_size: int = 0, name: str | None = None, stats_every: int = AUTO_STATS_EVERY,
               task: str | None = None, loader=None, optimizer=None, tensorboard: str | Path | None = None,
               sinks=(), **config) -> Monitor:
        """A monitor for a loop of your own: call `batch` after each step, `evaluated` when you
        validate, and `close`. `network`: a layer, or several in a list or a dict of names (a GAN's
        generator and discriminator). Epochs are counted from `steps_per_epoch`, or from `loader`
        (its length, and its batch size); `epoch_end` marks an epoch's end where neither says.
        `optimizer`: a Paddle optimizer, whose learning rate is then logged with each batch (or its
        name, as a setting)."""
        loader_steps, loader_batch = loader_facts(loader) if loader is not None else (0, 0)
        steps_per_epoch = steps_per_epoch or loader_steps
        batch_size = batch_size or loader_batch or 1
        monitor = cls(runs_dir, name, stats_every, task=task, tensorboard=tensorboard, sinks=sinks)
        monitor.model = None
        if hasattr(optimizer, "get_lr"):
            monitor.optimizer = optimizer
            config = {"optimizer": type(optimizer).__name__.lower(), "lr": monitor._lr(), **config}
        elif optimizer is not None:
            config["optimizer"] = optimizer
        monitor.batch_size = batch_size
        monitor._open(network, {"epochs": epochs, "batch_size": batch_size, "stats_every": monitor.stats_every, **config},
                      epochs, steps_per_epoch)
        return monitor

    def batch(self, loss, acc=None, **metrics) -> bool:
        """After each optimizer step; returns False when the viewer asked the loop to stop.
        `acc`: the batch's accuracy; other figures by name (`monitor.batch(loss, acc, top5=t5)`)."""
        if self.steps and self.batch_index >= self.steps:  # a new epoch, whether or not epoch_end was called
            self.epoch_end()
        self._batch_end(loss, lambda: self._named(acc, metrics), self.batch_size)
        return not self.stop_requested

    def _named(self, acc, metrics: dict) -> dict[str, float | None]:
        """The hand loop's figures by name; the first batch fixes which names the run has."""
        named = {"acc": acc, **metrics} if acc is not None else dict(metrics)
        if self.step == 0 and not self.metric_names:
            self.metric_names = list(named)
        return {name: _number(named.get(name)) for name in self.metric_names}

    def epoch_end(self) -> None:
        """Optional when `steps_per_epoch` or `loader` was given: the epoch then ends on its own."""
        if self.batch_index:
            self._batches_last_epoch = self.batch_index
            self.epoch += 1
            self.batch_index = 0

    def evaluated(self, loss, acc=None, size: int = 0, **metrics) -> None:
        """After a validation: its mean loss, accuracy and other figures (by name) over `size` samples."""
        self._evaluated(loss, lambda: self._named(acc, metrics), size)

    def close(self) -> None:
        self._close(RunStatus.STOPPED if self.stop_requested else RunStatus.FINISHED)
