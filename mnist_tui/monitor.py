"""`mnist_tui.Monitor`: any Paddle model's training in a run folder that `mnist-tui watch` opens.

    model.fit(train, eval, epochs=2, callbacks=[Monitor(runs_dir="runs")])   # paddle.Model

    monitor = Monitor.attach(net, runs_dir="runs", epochs=2, steps_per_epoch=len(loader))
    for epoch in range(2):
        for x, y in loader:
            ...; monitor.batch(loss, acc)         # a hand-written loop
        monitor.evaluated(val_loss, val_acc)
    monitor.close()

It writes the same run folder as our own trainer (events, trainer lock, control channel), so the
viewer shows the model's layers with their shapes, and `r`, `s`, `c`, `p` and stop reach it at the
next batch end: statistics and snapshots of the next batch (the layer probe is armed between two
batches, engine/probe.py), checkpoints through `paddle.Model.save` (or `paddle.save` of the layer),
pause by waiting at the batch end, stop through `model.stop_training`. On batches nobody asked
about, it writes one event line.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import paddle
from paddle.callbacks import Callback

from . import __version__
from .config import AUTO_STATS_EVERY
from .engine import checkpoint
from .engine.control import ControlError, ControlServer, PauseAndStop, hold_trainer_lock
from .engine.events import (
    BatchMetrics,
    CheckpointSaved,
    EvalResult,
    Finished,
    LayerStats,
    RunStarted,
    StatusChanged,
)
from .engine.probe import LayerProbe
from .engine.rundir import CONFIG, EventLog, RunDir
from .engine.snapshot import Snapshots, check_layer


def _number(value) -> float:
    """A figure from `logs`: Paddle gives lists or arrays of one value."""
    while isinstance(value, (list, tuple)):
        value = value[0]
    return float(np.asarray(value).reshape(-1)[0]) if value is not None else float("nan")


class Monitor(Callback, PauseAndStop):
    def __init__(self, runs_dir: str | Path = "runs", name: str | None = None, stats_every: int = AUTO_STATS_EVERY,
                 seed: int = 0, hold_for_viewers: bool = True) -> None:
        """`hold_for_viewers`: when training ends while a viewer is attached, wait (answering `r`
        and `s` on the final model) until it leaves or stops the run, as our own trainer does."""
        Callback.__init__(self)
        PauseAndStop.__init__(self)
        self.runs_dir, self.name, self.stats_every = Path(runs_dir), name, stats_every
        self.hold_for_viewers = hold_for_viewers
        self._last_input = None
        self._eval_images = None  # images seen by the network in eval mode during Model.fit's evaluation
        self.seed = seed
        self._snapshot_layer = ""
        self._lock = threading.Lock()
        self._want = set()  # "stats", "snapshot", "checkpoint", asked through the control channel
        self.network = None
        self.epoch = self.step = self.batch_index = 0  # batch_index: within the epoch
        self.run = None

    # ---- the run folder ----
    def _open(self, network, config: dict, epochs: int, steps: int | None) -> None:
        self.network = network
        self.run = RunDir.create(self.runs_dir, self.name)
        self.config = config
        self._write_config()
        self._trainer_lock = hold_trainer_lock(self.run.path)
        self.log = EventLog(self.run.events_path)
        self.probe = LayerProbe(network)
        self.snapshots = Snapshots(self.run.snapshots, self.seed)
        self.probe.arm()  # the first batch gives the output shapes and the first statistics
        # The newest batch's input (a reference, no copy): the final model is inspected on it.
        self._input_hook = network.register_forward_pre_hook(self._keep_input)
        self.epochs, self.steps = epochs, steps or 0
        self._t0 = self._t_last = time.perf_counter()
        self._server = ControlServer(self.run.path, self).start()
        self.log(StatusChanged("running"))

    def _write_config(self) -> None:
        self.run.write_json(CONFIG, {"config": self.config, "source": type(self).__name__,
                                     "versions": {"mnist_tui": __version__, "paddle": paddle.__version__}})

    def _keep_input(self, _layer, inputs):
        if self.network.training:
            self._last_input = inputs
        elif self._eval_images is not None and inputs:
            self._eval_images += int(inputs[0].shape[0])

    def _close(self, status: str) -> None:
        self._input_hook.remove()
        self.log(Finished(status))
        if self.hold_for_viewers and self._server.viewers and self._last_input is not None:
            self._serve_final_model()
        self._server.close()
        self.probe.disarm()
        self.log.close()
        self._trainer_lock.close()

    # ---- controls (the control channel's thread calls these; pause, resume, stop: PauseAndStop) ----
    def request_layer_stats(self) -> None:
        self._ask("stats")

    def request_snapshot(self, layer: str = "") -> None:
        check_layer(self.probe, layer)
        self._snapshot_layer = layer
        self._ask("snapshot")

    def request_checkpoint(self) -> None:
        self._ask("checkpoint")

    def request_validation(self) -> None:
        raise ControlError("this loop validates on its own schedule (Model.fit: each epoch's end)")

    def toggle_auto_stats(self) -> None:
        self.stats_every = 0 if self.stats_every else AUTO_STATS_EVERY

    def _ask(self, what: str) -> None:
        with self._lock:
            self._want.add(what)

    def _take(self, what: str) -> bool:
        with self._lock:
            wanted = what in self._want
            self._want.discard(what)
            return wanted

    # ---- the loop's side ----
    def _batch_end(self, loss, acc, batch_size: int) -> None:
        now = time.perf_counter()
        rate = batch_size / max(now - self._t_last, 1e-9)
        self._t_last = now
        if self.step == 0:
            if not self.config.get("batch_size"):  # Model.fit says it only with the first batch
                self.config["batch_size"] = batch_size
                self._write_config()
            self.log(RunStarted(str(self.run.path), paddle.get_device(), self.config, self.epochs, self.steps,
                                self.steps * batch_size, 0, self.probe.facts()))
        self.log(BatchMetrics(self.epoch, self.batch_index, self.step, _number(loss), _number(acc), rate, now - self._t0))
        if self.probe.armed:
            self.probe.disarm()
            if self.probe.outputs:
                self.log(LayerStats(self.epoch, self.batch_index, self.step, self.probe.stats()))
                if self._take("snapshot") or self._snapshot_pending:
                    self._snapshot()
        self._snapshot_pending = False
        if self._take("checkpoint"):
            self._checkpoint()
        self.step += 1
        self.batch_index += 1
        self._wait_while_paused()
        due = self.stats_every and self.step % self.stats_every == 0
        snapshot = self._take("snapshot")
        if due or self._take("stats") or snapshot:
            self._snapshot_pending = snapshot
            self.probe.arm()  # for the next batch

    _snapshot_pending = False

    def _wait_while_paused(self) -> None:
        if not self.paused:
            return
        self.log(StatusChanged("paused", "at a batch end; requests are served at the next batch"))
        self._running.wait()
        self._t_last = time.perf_counter()
        self.log(StatusChanged("running"))

    def _snapshot(self) -> None:
        self.log(self.snapshots.take(self.probe, self.probe.outputs, (self.epoch, self.batch_index, self.step),
                                     self._snapshot_layer))

    def _checkpoint(self) -> None:
        stem = checkpoint.stem(self.run.checkpoints, self.step)
        if self.model is not None and hasattr(self.model, "save"):
            self.model.save(str(stem))  # paddle.Model: .pdparams and .pdopt
        else:
            paddle.save(self.network.state_dict(), str(stem) + ".pdparams")
        self.log(CheckpointSaved(str(stem) + ".pdparams", self.epoch, self.batch_index, self.step))

    def _serve_final_model(self) -> None:
        """`r` and `s` on the final weights, on the last batch, until the last viewer leaves or stops."""
        while self._server.viewers and not self.stop_requested:
            snapshot = self._take("snapshot")
            if snapshot or self._take("stats"):
                self.probe.arm(track_updates=False)
                with paddle.no_grad():
                    self.network(*self._last_input)
                self.probe.disarm()
                self.log(LayerStats(self.epoch, self.batch_index, self.step, self.probe.stats()))
                if snapshot:
                    self._snapshot()
            if self._take("checkpoint"):
                self._checkpoint()
            time.sleep(0.05)

    def _evaluated(self, loss, acc, size: int = 0) -> None:
        self.log(EvalResult("val", self.epoch, self.batch_index, self.step, _number(loss), _number(acc), size=size))

    # ---- paddle.callbacks.Callback ----
    def on_train_begin(self, logs=None) -> None:
        params = self.params or {}
        optimizer = getattr(self.model, "_optimizer", None)
        config = {"epochs": params.get("epochs"), "batch_size": params.get("batch_size"), "stats_every": self.stats_every,
                  "optimizer": type(optimizer).__name__.lower() if optimizer else None,
                  "lr": float(optimizer.get_lr()) if optimizer else None, "model": type(self.model.network).__name__}
        self._open(self.model.network, config, params.get("epochs") or 0, params.get("steps"))

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch, self.batch_index = epoch, 0

    def on_train_batch_end(self, step, logs=None) -> None:
        logs = logs or {}
        self._batch_end(logs.get("loss"), logs.get("acc"), logs.get("batch_size") or self.params.get("batch_size") or 1)
        if self.stop_requested:
            self.model.stop_training = True

    def on_eval_begin(self, logs=None) -> None:
        self._eval_images = 0

    def on_eval_end(self, logs=None) -> None:
        if self.run is not None:  # evaluate() outside fit has no run folder
            logs = logs or {}
            self._evaluated(logs.get("loss"), logs.get("acc"), self._eval_images or 0)
        self._eval_images = None

    def on_train_end(self, logs=None) -> None:
        self._close("stopped" if self.stop_requested else "done")

    # ---- hand-written loops ----
    @classmethod
    def attach(cls, network, runs_dir: str | Path = "runs", epochs: int = 1, steps_per_epoch: int = 0,
               batch_size: int = 1, name: str | None = None, stats_every: int = AUTO_STATS_EVERY,
               **config) -> Monitor:
        """A monitor for a loop of your own: call `batch`, `epoch_end`, `evaluated` and `close`."""
        monitor = cls(runs_dir, name, stats_every)
        monitor.model = None
        monitor.batch_size = batch_size
        monitor._open(network, {"epochs": epochs, "batch_size": batch_size, "stats_every": monitor.stats_every, **config},
                      epochs, steps_per_epoch)
        return monitor

    def batch(self, loss, acc=None) -> bool:
        """After each optimizer step; returns False when the viewer asked the loop to stop."""
        self._batch_end(loss, acc, self.batch_size)
        return not self.stop_requested

    def epoch_end(self) -> None:
        self.epoch += 1
        self.batch_index = 0

    def evaluated(self, loss, acc, size: int = 0) -> None:
        self._evaluated(loss, acc, size)

    def close(self) -> None:
        self._close("stopped" if self.stop_requested else "done")
