"""The training loop (`Trainer`): epochs and batches, the decisions between two batches, and
events for whoever listens.

The loop only: its parts live in their own modules (the step in step.py, the metrics kept on the
device in metric_buffer.py, what the control channel asked in requests.py, the ranks in ranks.py,
optimisers in optim.py, evaluation in evaluation.py, layer inspection in probe.py, snapshots in
snapshot.py, checkpoints in checkpoint.py, the diagnosis and the collapse watch in
run/diagnosis.py); most of them work on any `paddle.nn.Layer`.

Host syncs are rare and deliberate: one every `metrics_interval_s` for the batch metrics, one per
validation, one per layer-statistics refresh or snapshot. Everything else stays on the device.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

import numpy as np
import paddle

from mnist_tui.engine import checkpoint, ranks
from mnist_tui.engine.data import Mnist, Split
from mnist_tui.engine.device import choose_device, describe_ranks
from mnist_tui.engine.evaluation import Evaluation, evaluate, worst_digits
from mnist_tui.engine.metric_buffer import STEP_S, MetricBuffer
from mnist_tui.engine.model import MnistCNN
from mnist_tui.engine.optim import build_optimizer
from mnist_tui.engine.probe import LayerProbe
from mnist_tui.engine.requests import CHECKPOINT, SNAPSHOT, STATS, VALIDATION, Controlled, Requests
from mnist_tui.engine.snapshot import Snapshots, check_layer
from mnist_tui.engine.step import check_options, make_step
from mnist_tui.run.config import AUTO_STATS_EVERY, TrainConfig
from mnist_tui.run.diagnosis import CollapseWatch, diagnose
from mnist_tui.run.events import (
    CLASSIFICATION,
    Alert,
    BatchMetrics,
    CheckpointSaved,
    ErrorRaised,
    EvalProgress,
    EvalResult,
    EventBus,
    Finished,
    LayerStats,
    Mistakes,
    RankTimes,
    RunStarted,
    StatusChanged,
)
from mnist_tui.run.folder import MODEL, RunDir
from mnist_tui.run.status import RunStatus

WORST_SHOWN = 8  # validation mistakes kept per evaluation, highest loss first


class Trainer(Controlled):
    """Trains MnistCNN on the given split and emits events on `bus`.

    Controls (pause, resume, stop, request_*) may be called from any thread at any moment; they
    take effect at the next batch boundary, or at once while paused.
    """

    def __init__(self, cfg: TrainConfig, data: Mnist, run: RunDir | None, bus: EventBus | None = None,
                 pause_on_divergence=False, start_paused: bool = False) -> None:
        """`run`: the run folder, None on the ranks other than 0 (ranks.py), which write nothing."""
        self.cfg = cfg
        self.run_dir = run
        self.bus = bus or EventBus()
        # A bool, or a callable asked at the moment (e.g. "is a viewer attached?").
        self.pause_on_divergence = pause_on_divergence if callable(pause_on_divergence) else lambda: pause_on_divergence
        self.train_split = data.train.head(cfg.train_limit)
        self.val_split = data.val.head(cfg.val_limit)
        # Chosen once per run (from the seed), so every evaluation measures the same images.
        picked = np.random.default_rng([cfg.seed, 2]).permutation(len(self.train_split))[:cfg.train_eval_limit]
        self.train_eval_split = self.train_split.take(np.sort(picked))
        self.test_split = data.test.head(cfg.test_limit)
        self.batches_per_epoch = len(self.train_split) // cfg.batch_size  # the partial last batch is dropped
        self.total_steps = self.batches_per_epoch * cfg.epochs
        self.requests = Requests(start_paused)
        self.epoch = 0
        self.batch = 0  # next batch to run within the epoch
        self.step = 0  # batches done in all
        self.status = RunStatus.STARTING
        self.error: Exception | None = None  # what ended the run as ERROR
        self.diverged = False
        self.last_finite_loss: float | None = None
        self.stats_every = cfg.stats_every  # 0: only on request, at the first batch and at evaluations
        self._first_step = None  # the first step this trainer runs (statistics are taken there)
        self._period: list[tuple[float, float]] = []  # (loss, acc) since the previous validation
        self._last_batch = None  # (x, y) of the last batch, for requests served while paused
        self.snapshots = Snapshots(run.snapshots, cfg.seed) if run is not None else None
        self.rank, self.world = ranks.environment()
        self.leader = self.rank == 0  # owns the decisions, the events and the files
        self.link: ranks.Link | None = None
        self.lost_rank = ""  # why the run ended early, when a rank went away
        self.children: list = []  # ranks this process started (headless sets them), to name a lost one
        self.before_rendezvous = None  # a rank started by rank 0: tells it "ready" (host/rank_main.py)
        self.rows = ranks.share(cfg.batch_size, self.rank, self.world)  # this rank's rows of each batch
        self.metrics = MetricBuffer(self.rank, self.world, self.rows, cfg.batch_size)
        self.device, name = choose_device(cfg.device, cfg.amp)
        check_options(cfg, self.world)
        self.device_name = describe_ranks(self.device, name, self.world)
        # Built by _setup, in the thread that trains.
        self.model = self.optimizer = self.dp = self.step_fn = self.probe = self.watch = None
        self.train_x = self.train_y = None  # the training split, on the device
        self.layers: list[dict] = []  # the model's layer facts (LayerProbe.facts)
        # Clocks of the training, set when it starts: its start, the last metrics fetch, the last checkpoint.
        self._t0 = self._t_fetch = self._last_checkpoint = None
        self._images_since_fetch = 0

    # ---- controls, callable from any thread (pause, resume, stop: requests.Controlled) ----
    def request_validation(self) -> None:
        self.requests.ask(VALIDATION)

    def request_layer_stats(self) -> None:
        self.requests.ask(STATS)

    def request_snapshot(self, layer: str = "") -> None:
        """`layer`: a convolution or linear layer to show ("": the first two convolutions)."""
        if layer and self.probe is None:
            raise ValueError("training is starting: its layers are not known yet, try again in a moment")
        if layer:
            check_layer(self.probe, layer)
        self.requests.ask(SNAPSHOT, layer)

    def request_checkpoint(self) -> None:
        self.requests.ask(CHECKPOINT)

    def toggle_auto_stats(self) -> None:
        self.stats_every = 0 if self.stats_every else (self.cfg.stats_every or AUTO_STATS_EVERY)

    # ---- the loop ----
    def run(self, resume_from: dict | None = None) -> RunStatus:
        """Train to the end (or until stopped); return the final status. Never raises."""
        try:
            paddle.disable_static()  # dygraph mode is per thread in Paddle; this may be a new thread
            # Fresh names for parameters and optimizer accumulators (conv2d_0.w_0_moment1_0, ...)
            # whatever this process built before: the optimizer's checkpoint is keyed by them.
            with paddle.utils.unique_name.guard():
                self._set_up_ranks_and_model(resume_from)
                try:
                    self._train()
                    if self.link is not None and self.leader:
                        self.link.tell(ranks.END)
                except ranks.RankLost as lost:
                    self._on_rank_lost(lost)
                self.link = None  # the ranks have parted: no collective from here on
                if self.leader:
                    self._report_rank_times()  # the batches since the last validation (a stop, a divergence)
            if not self.leader:  # told to END by rank 0 (or it went away: STOPPED)
                self.status = RunStatus.FINISHED if self.status is RunStatus.TRAINING else self.status
                return self.status
            if self.status is RunStatus.TRAINING:
                self._set_status(RunStatus.TESTING)
                test = self.evaluate(self.test_split, self._progress("test", len(self.test_split)))
                self.bus.emit(EvalResult("test", self.epoch, self.batch, self.step, test.loss, test.acc,
                                         size=len(self.test_split)))
                checkpoint.save_model(self.model, self.run_dir.path / MODEL)
                self._set_status(RunStatus.FINISHED)
                self.bus.emit(Finished(RunStatus.FINISHED.logged, test.acc, test.loss))
            else:
                self.bus.emit(Finished(self.status.logged))
        except ranks.RanksDidNotStart as failed:
            self._ranks_did_not_start(failed)
        except Exception as exc:  # noqa: BLE001 - reported as an event, the caller decides
            self.status, self.error = RunStatus.ERROR, exc
            log = str(self.run_dir.log_path) if self.run_dir is not None else "this rank's output"
            self.bus.emit(ErrorRaised(f"{type(exc).__name__}: {exc}", traceback.format_exc(), log))
            self.bus.emit(Finished(RunStatus.ERROR.logged))
        return self.status

    def serve_final_model(self) -> None:
        """After the run, answer statistics, snapshot and validation requests on the final model
        until stopped, so a finished run stays inspectable while someone is looking at it."""
        if self.status in (RunStatus.ERROR, RunStatus.CRASHED) or self.model is None:
            return
        if self._last_batch is None:  # no batch was run (e.g. resumed at the very end): the first one
            n = self.cfg.batch_size
            self._last_batch = (paddle.to_tensor(self.train_split.images[:n]),
                                paddle.to_tensor(self.train_split.labels[:n, None]))
        while not self.requests.wait_for_stop(0.05):
            try:
                self._serve_inspections()
                if self.requests.take(VALIDATION):
                    self._report_validation()
            except Exception as exc:  # noqa: BLE001 - the run itself is over and fine: say so, keep serving
                traceback.print_exc()  # fd 2 is the run's log
                self.bus.emit(Alert("warning", f"inspecting the final model failed: {type(exc).__name__}: {exc} "
                                    f"(traceback in {self.run_dir.log_path})", self.epoch, self.batch))

    def _set_up_ranks_and_model(self, resume_from: dict | None) -> None:
        """`_setup`; a rank started here that dies before the ranks are linked (gloo raises, or it never
        reaches the rendezvous: see ranks.wait_until_ready) is named in our words (RanksDidNotStart)."""
        try:
            self._setup(resume_from)
        except ranks.RanksDidNotStart:
            raise
        except Exception as exc:
            lost = ranks.child_lost(self.children, wait_s=3.0) if self.leader else None  # gloo may raise first
            if lost:
                raise ranks.RanksDidNotStart(lost) from exc
            raise

    def _ranks_did_not_start(self, failed: ranks.RanksDidNotStart) -> None:
        """A rank died while the ranks were starting: said in our words, gloo's in run.log. No
        Finished event (a viewer sees the run CRASHED): with no checkpoint yet, `--resume` starts the
        run again from its settings."""
        print(f"{failed} while the ranks were starting; gloo said: {failed.__cause__ or 'nothing'}", file=sys.stderr,
              flush=True)  # run.log
        self.bus.emit(Alert("error", f"{failed} while the ranks were starting: the run cannot go on; "
                                     f"mnist-tui --resume {self.run_dir.path} starts it again", 0, 0))
        for child in self.children:  # the others would wait for it in gloo
            child.kill()
        self.status = RunStatus.CRASHED

    def _on_rank_lost(self, lost: ranks.RankLost) -> None:
        """Another rank died or stalls: rank 0 keeps the last complete step in a checkpoint and
        ends the run as stopped (`--resume` goes on, with any number of ranks); the others end."""
        self.link = None
        if not self.leader:
            self.status = RunStatus.STOPPED
            return
        self.lost_rank = ranks.lost_rank_message(lost.__cause__ or lost, self.children)
        print(f"{self.lost_rank}; gloo said: {lost.__cause__ or lost}", file=sys.stderr, flush=True)  # run.log
        unsummed = len(self.metrics)
        self._fetch_metrics()  # the batches run since the last fetch: their sums over the ranks cannot be made
        partial = f"; the last {unsummed} batches' figures are rank 0's share only" if unsummed else ""
        self.bus.emit(Alert("error", f"{self.lost_rank} at epoch {self.epoch + 1}, batch {self.batch}: the run stops "
                                     f"with a checkpoint (--resume goes on, with any --nproc){partial}",
                            self.epoch, self.batch))
        self.save_checkpoint()
        self._set_status(RunStatus.STOPPED, self.lost_rank)

    def _setup(self, resume_from: dict | None) -> None:
        cfg = self.cfg
        paddle.set_device(self.device)
        # Several ranks on one machine's cores: one math thread each, or they crowd each other.
        threads = cfg.threads or (1 if self.world > 1 else 0)
        if threads and self.device == "cpu":
            paddle.base.core.set_num_threads(threads)
        if self.world > 1:
            if self.leader:
                ranks.wait_until_ready(self.children)
            elif self.before_rendezvous is not None:
                self.before_rendezvous()
            paddle.distributed.init_parallel_env()
            self.link = ranks.Link(self.rank, self.world, on_gpu=self.device != "cpu")
            # A resumed run's state comes from rank 0 (the only one with the run folder).
            resume_from = self.link.share_state(ranks.to_host(resume_from) if self.leader else None)
        paddle.seed(cfg.seed)
        self.model = MnistCNN(cfg.l2)
        self.optimizer = build_optimizer(cfg, self.model.parameters(), self.total_steps)
        # The same weights on every rank from here on: DataParallel starts from rank 0's.
        self.dp = ranks.data_parallel(self.model) if self.world > 1 else None
        self.step_fn = self._make_step()
        # The splits are uploaded once; batches are gathered on the device.
        self.train_x = paddle.to_tensor(self.train_split.images)
        self.train_y = paddle.to_tensor(self.train_split.labels[:, None])
        if resume_from:
            self.model.set_state_dict(resume_from["model_state"])
            self.optimizer.set_state_dict(resume_from["optimizer_state"])
            self.epoch, self.batch, self.step = resume_from["epoch"], resume_from["batch"], resume_from["step"]
        self.probe = LayerProbe(self.model)
        self.probe.look(paddle.zeros([cfg.batch_size, 1, 28, 28], dtype="float32"))  # output shapes
        self.layers = self.probe.facts()
        self.watch = CollapseWatch(classes=self.layers[-1]["output_shape"][-1])
        self._first_step = self.step
        if self.leader:
            self.bus.emit(RunStarted(
                str(self.run_dir.path), self.device_name, cfg.to_dict(), cfg.epochs, self.batches_per_epoch,
                len(self.train_split), len(self.val_split), self.layers, self.epoch, self.step, ranks=self.world,
                train_eval_size=len(self.train_eval_split), test_size=len(self.test_split),
            ))

    def _make_step(self):
        return make_step(self.cfg, self.model, self.optimizer, self.dp, self.link, self.rows, self.world, self.metrics)

    def _train(self) -> None:
        cfg = self.cfg
        self._set_status(RunStatus.TRAINING if not self.paused else RunStatus.PAUSED)
        self._t0 = self._t_fetch = time.perf_counter()
        self._last_checkpoint = time.monotonic()
        self._images_since_fetch = 0
        while self.epoch < cfg.epochs:
            order = np.random.default_rng([cfg.seed, self.epoch]).permutation(len(self.train_split))
            perm = paddle.to_tensor(order[: self.batches_per_epoch * cfg.batch_size])
            shift_rng = np.random.default_rng([cfg.seed, self.epoch, 1])
            shift_rng.integers(-cfg.shift, cfg.shift + 1, size=(self.batch, 2))  # skip the batches already done
            while self.batch < self.batches_per_epoch:
                word = self._next_word()
                if word == ranks.END:
                    return
                idx = perm[self.batch * cfg.batch_size + self.rows[0] : self.batch * cfg.batch_size + self.rows[1]]
                x, y = paddle.gather(self.train_x, idx), paddle.gather(self.train_y, idx)
                if cfg.shift:
                    # Random translation of the whole batch; the offsets come from the host RNG, so no sync.
                    dy, dx = shift_rng.integers(-cfg.shift, cfg.shift + 1, size=2)
                    x = paddle.roll(x, shifts=[int(dy), int(dx)], axis=[2, 3])
                self._last_batch = (x, y)
                due_stats = self.step == self._first_step or (self.stats_every and self.step % self.stats_every == 0)
                want_stats = self.leader and (due_stats or self.requests.asked(STATS))
                if want_stats:
                    self.probe.keep_weights()  # for this step's update ratio
                lr = self.optimizer.get_lr()  # this batch's: a Python float, read before the schedule steps
                begin = time.perf_counter()
                loss, acc = self.step_fn(x, y)
                self.metrics.add_time(STEP_S, time.perf_counter() - begin)
                self.metrics.add(loss, acc, (self.epoch, self.batch, self.step, lr))
                self.batch += 1
                self.step += 1
                self._images_since_fetch += cfg.batch_size
                if want_stats:
                    self.requests.take(STATS)
                    self._emit_layer_stats(x)
                if self.requests.take(SNAPSHOT):
                    self._take_snapshot(x, y)
                if word == ranks.STEP_AND_FETCH and not self._fetch_metrics(agreed=True):
                    return
                if not self.leader:
                    continue
                if cfg.checkpoint_minutes and time.monotonic() - self._last_checkpoint >= 60 * cfg.checkpoint_minutes:
                    if not self._fetch_metrics():
                        return
                    self.save_checkpoint()
                due_eval = cfg.eval_every and self.step % cfg.eval_every == 0 and self.batch < self.batches_per_epoch
                if due_eval and not self._validate():
                    return
            # At an epoch's end the other ranks wait for rank 0's next word.
            if self.leader and (not self._fetch_metrics() or not self._validate()):
                return
            self.epoch += 1
            self.batch = 0
            if self.leader and cfg.checkpoint_every_epoch:
                self.save_checkpoint()
        if not self.leader:
            self._next_word()  # END, after rank 0's last fetch and validation

    def _next_word(self) -> int:
        """What the next batch does. Rank 0 decides (serving requests, waiting while paused) and
        tells the other ranks; they do what it says (ranks.py)."""
        if not self.leader:
            while True:
                word = self.link.listen()
                if word == ranks.FETCH:
                    self._fetch_metrics(agreed=True)
                elif word != ranks.HOLD:
                    return word
        if not self._between_batches():
            return ranks.END  # run() tells the others
        due_fetch = time.perf_counter() - self._t_fetch >= self.cfg.metrics_interval_s
        word = ranks.STEP_AND_FETCH if due_fetch else ranks.STEP
        if self.link is not None:
            self.link.tell(word)
        return word

    def _between_batches(self) -> bool:
        """Serve requests and wait while paused; False when the run must end."""
        while True:
            if self.requests.stop_requested:
                self._fetch_metrics()
                if not self.diverged:  # a diverged run ends as such, with no checkpoint
                    self.save_checkpoint()
                    self._set_status(RunStatus.STOPPED)
                return False
            if self.requests.asked(VALIDATION) and not self._validate():
                return False
            if self.requests.take(CHECKPOINT):
                self._fetch_metrics()
                self.save_checkpoint()
            if not self.requests.paused:
                if self.diverged:
                    return False
                if self.status is RunStatus.PAUSED:
                    self._set_status(RunStatus.TRAINING)
                    self._t_fetch = time.perf_counter()
                    self._images_since_fetch = 0
                return True
            if self.status is not RunStatus.PAUSED:
                self._fetch_metrics()
                self._set_status(RunStatus.PAUSED)
            if self._last_batch is not None:
                self._serve_inspections()
            if self.link is not None:
                self.link.hold()
            self.requests.wait_until_running(0.05)

    def _serve_inspections(self) -> None:
        """Statistics and snapshot requests, on the last batch, with no step in between (paused or ended)."""
        if self.requests.take(STATS):
            self._emit_layer_stats(self._last_batch[0])
        if self.requests.take(SNAPSHOT):
            self._take_snapshot(*self._last_batch)

    def _set_status(self, status: RunStatus, detail: str = "") -> None:
        self.status = status
        self.bus.emit(StatusChanged(status.logged, detail))

    def _fetch_metrics(self, agreed: bool = False) -> bool:
        """One host sync for all batches since the last fetch; False if the loss went non-finite.
        With several ranks, every rank sums its share of each batch's figures here: at a fetch
        they agreed on (`agreed`), or else at rank 0's FETCH word."""
        if not self.metrics:
            return not self.diverged
        fetched = self.metrics.fetch(self.link, tell_fetch=self.leader and not agreed)
        if fetched is None:  # a rank other than 0: its share is in rank 0's sums
            return True
        now = time.perf_counter()
        rate = self._images_since_fetch / max(now - self._t_fetch, 1e-9)
        self._t_fetch, self._images_since_fetch = now, 0
        elapsed = now - self._t0
        first_bad = None
        for (epoch, batch, step, lr), (loss, acc) in fetched:
            loss, acc = float(loss), float(acc)
            self.bus.emit(BatchMetrics(epoch, batch, step, loss, acc, rate, elapsed, lr=float(lr)))
            if first_bad is None and not self.diverged:
                seen = self.watch.observe(loss, acc, self.last_finite_loss)
                if seen:
                    first_bad = (epoch, batch, seen)
                else:
                    self.last_finite_loss = loss
                    self._period.append((loss, acc))
        if first_bad:
            self._on_divergence(*first_bad)
        return not self.diverged

    def _on_divergence(self, epoch: int, batch: int, seen: str) -> None:
        """Non-finite, exploded or at chance (diagnosis.CollapseWatch): the run ends as diverged."""
        self.diverged = True
        # For people, as the app numbers them: epochs from 1, the batch's number within its epoch.
        message = f"training diverged at epoch {epoch + 1}, batch {batch + 1}: {seen}; try a lower --lr"
        self.bus.emit(Alert("error", message, epoch, batch))
        if self.pause_on_divergence():
            # Hold the broken network so its layers can be inspected; returns on stop or resume.
            self.pause()
            self._set_status(RunStatus.PAUSED, message)
            self._between_batches()
        self._set_status(RunStatus.DIVERGED, message)

    # ---- evaluation ----
    def evaluate(self, split: Split, progress=None) -> Evaluation:
        return evaluate(self.model, split, between=self.link.hold if self.link else None,
                        progress=progress)

    def _progress(self, split: str, total: int, before: int = 0, began: float | None = None):
        """A progress callback for `evaluate` that emits EvalProgress; `before`: images of the same
        evaluation already done (a validation's training subset comes after its split)."""
        began = time.perf_counter() if began is None else began
        t0 = began if self._t0 is None else self._t0  # the training clock (none yet: a run resumed at its very end)
        return lambda done: self.bus.emit(EvalProgress(split, before + done, total, time.perf_counter() - began,
                                                       time.perf_counter() - t0))

    def _validate(self) -> bool:
        """Validate (see _report_validation); False if the metrics fetched first show a divergence."""
        self.requests.take(VALIDATION)
        if not self._fetch_metrics():
            return False
        self._report_rank_times()
        self._report_validation()
        return True

    def _report_rank_times(self) -> None:
        """Rank 0: each rank's time per batch since the previous report (RankTimes), up to the last batch run."""
        times = self.metrics.rank_times()
        if times is not None:
            self.bus.emit(RankTimes(*self._position(), *times))

    def _report_validation(self) -> None:
        """Validation and the fixed training subset, the same way; the diagnosis; what it got wrong;
        the layers' statistics (so every evaluation leaves a full picture)."""
        previous = self.status
        self._set_status(RunStatus.VALIDATING)
        began, total = time.perf_counter(), len(self.val_split) + len(self.train_eval_split)
        val = self.evaluate(self.val_split, self._progress("val", total, began=began))
        train = self.evaluate(self.train_eval_split, self._progress("val", total, len(self.val_split), began))
        running = np.array(self._period).mean(axis=0).tolist() if self._period else [None, None]
        self._period = []
        verdict, text = diagnose(train.acc, len(train.labels), val.acc, len(val.labels),
                                 self.cfg.weight_decay, self.cfg.l2)
        # At an epoch's start (also after the last one) the weights are those of the previous epoch's end.
        at_start = self.batch == 0 and self.step > 0
        epoch, batch, step = (self.epoch - 1, self.batches_per_epoch, self.step) if at_start else \
            (self.epoch, self.batch, self.step)
        self.bus.emit(EvalResult("val", epoch, batch, step, val.loss, val.acc, running_loss=running[0],
                                 running_acc=running[1], train_loss=train.loss, train_acc=train.acc,
                                 size=len(val.labels), train_size=len(train.labels), verdict=verdict, diagnosis=text))
        self.bus.emit(Mistakes(epoch, batch, step, val.confusion().tolist(),
                              worst_digits(val, self.val_split, WORST_SHOWN)))
        if self._last_batch is not None:
            self._emit_layer_stats(self._last_batch[0])
        self._set_status(previous)
        # The next rate measures training only: the clock starts again after the evaluation.
        self._t_fetch = time.perf_counter()

    # ---- inspection ----
    def _emit_layer_stats(self, x) -> None:
        """Activation statistics of a no-grad pass on batch x with the current weights, the last
        step's gradient norms (kept until the next step), and its update ratios when the weights
        before it were kept."""
        self.probe.look(x)
        self.probe.grads_from_params()
        epoch, batch, step = self._position()
        self.bus.emit(LayerStats(epoch, batch, step, self.probe.stats()))

    def _position(self) -> tuple[int, int, int]:
        """Epoch, batch and step of the batch that was run last."""
        if self.batch == 0 and self.step > 0:
            return self.epoch - 1, self.batches_per_epoch - 1, self.step - 1
        return self.epoch, max(self.batch - 1, 0), max(self.step - 1, 0)

    def _take_snapshot(self, x, y) -> None:
        outputs = self.probe.look(x[:1])
        self.bus.emit(self.snapshots.take(self.probe, outputs, self._position(), self.requests.snapshot_layer,
                                          label=int(y[0, 0].numpy()), image=x[0, 0].numpy(), task=CLASSIFICATION))

    # ---- checkpoints ----
    def save_checkpoint(self) -> Path | None:
        """A checkpoint (checkpoint.py), never from non-finite weights."""
        if self.diverged or not all(bool(paddle.isfinite(p).all()) for p in self.model.parameters()):
            why = "training diverged" if self.diverged else "the weights are not finite"
            self.bus.emit(Alert("warning", f"checkpoint skipped: {why}", self.epoch, self.batch))
            return None
        stem = checkpoint.save(self.run_dir.checkpoints, self.model, self.optimizer,
                               {"epoch": self.epoch, "batch": self.batch, "step": self.step})
        self._last_checkpoint = time.monotonic()
        self.bus.emit(CheckpointSaved(str(stem) + ".pdparams", self.epoch, self.batch, self.step))
        return stem
