"""What the app knows about the run, folded from engine events; no Textual, so it is testable alone.

The app applies each frame's drained events here, then redraws only the parts marked dirty.
"""

from __future__ import annotations

import collections
import math

from mnist_tui.run import events as ev
from mnist_tui.run.status import RunStatus
from mnist_tui.sinks.course_log import CourseLog, at_done, part_off
from mnist_tui.tui.history import History, Window
from mnist_tui.tui.pace import Pace, evaluations_due

STATS_KEPT = 1000  # layer-statistics refreshes kept for the health map
NO_EVALUATION = "No evaluation yet: press v to validate now, or wait for the end of the epoch."


def figure(name: str, value: float) -> str:
    """A metric's value for people: an accuracy-like one in %, any other with 4 decimals."""
    return f"{100 * value:.2f}%" if ev.accuracy_like(name) else f"{value:.4f}"


class RunState:
    def __init__(self, window: int = 200, history_points: int = 2000) -> None:
        self.started: ev.RunStarted | None = None
        self.epoch = self.batch = self.step = 0  # the last batch run: its epoch, index in it, global index
        self.steps_done = 0
        self.images_per_s = 0.0
        self.elapsed_s = 0.0  # the trainer's clock, summed over its lives (a resume starts it again)
        self._earlier_lives_s = 0.0
        self.pace = Pace()
        self.eval_progress: ev.EvalProgress | None = None  # the evaluation running now, if any
        self.validating = False  # a validation has begun (its first progress report may not have come yet)
        self.loss_window, self.acc_window = Window(window), Window(window)
        self.best_loss: float | None = None
        self.best_acc: float | None = None
        self.loss_history, self.acc_history = History(history_points), History(history_points)
        self.lr_history = History(history_points, smoothed=False)  # each batch's learning rate, where the run logs it
        self.metric_windows: dict[str, Window] = {}  # the figures besides loss and accuracy, by their names
        self._window = window
        self._acc_seen = self._batches_seen = False
        self.log_lines: collections.deque[str] = collections.deque(maxlen=500)
        self.new_log_lines: list[str] = []
        self.evals: list[ev.EvalResult] = []
        self.test: ev.EvalResult | None = None
        self.layer_stats: ev.LayerStats | None = None
        self.stats_history: collections.deque[ev.LayerStats] = collections.deque(maxlen=STATS_KEPT)
        self.mistakes: ev.Mistakes | None = None
        self.course_log = CourseLog()  # the log lines, and the layers' flags they report
        self.snapshots: list[ev.SnapshotTaken] = []  # user-triggered, so few
        self.new_snapshot: ev.SnapshotTaken | None = None
        self.checkpoints = 0
        self.error: ev.ErrorRaised | None = None
        self.monitor_off: dict[str, str] = {}  # the Monitor's parts that failed and are off: part -> error
        self.dirty: set[str] = set()

    # ---- derived figures ----
    @property
    def flags(self) -> dict[str, str]:
        """Each layer's flag at the newest statistics refresh (diagnosis.LayerFlags): words or "ok"."""
        return self.course_log.flags.now

    @property
    def task(self) -> str:
        """What the network does (events.TASKS), as the run recorded it; classification for older logs."""
        return self.started.task if self.started else ev.CLASSIFICATION

    @property
    def classifies(self) -> bool:
        return self.task == ev.CLASSIFICATION

    @property
    def has_accuracy(self) -> bool:
        """Whether the run measures an accuracy: named at its start (older logs: any seen). Without
        one, and before the run's start has been read, no view shows accuracy words or figures."""
        if self.started is not None and not self.started.accuracy:
            return False
        return self._acc_seen or (self.started is not None and not self._batches_seen)

    @property
    def accuracy_name(self) -> str:
        return self.started.accuracy if self.started and self.started.accuracy else "acc"

    @property
    def accuracy_words(self) -> str:
        """"accuracy", with the metric's own name when it is not plain `acc` ("accuracy (acc_top1)")."""
        return "accuracy" if self.accuracy_name == "acc" else f"accuracy ({self.accuracy_name})"

    @property
    def bpe(self) -> int:
        return self.started.batches_per_epoch if self.started else 0

    @property
    def epochs(self) -> int:
        return self.started.epochs if self.started else 0

    @property
    def total_steps(self) -> int:
        return self.bpe * self.epochs

    @property
    def batch_size(self) -> int:
        return (self.started.config.get("batch_size") or 0) if self.started else 0

    def position(self) -> tuple[int, int]:
        """(epoch, batches done in it) for people: epochs from 1, "batch 41" once 41 are done."""
        if self.steps_done == 0 or not self.bpe:
            return 1, 0
        return self.epoch + 1, self.steps_done - self.epoch * self.bpe

    def rate(self) -> float | None:
        """Training images a second, a moving average over training time only."""
        return self.pace.rate(self.batch_size or 1)

    def eta(self) -> tuple[float | None, bool]:
        """(seconds left, whether they include every evaluation still due) for a run of our trainer;
        (None, False) when it cannot be told (no batch yet, or a loop that does not give its batch size)."""
        if not self.started or not self.batch_size:
            return None, False
        s = self.started
        train_left = max(self.total_steps - self.steps_done, 0) * self.batch_size
        per_validation = s.val_size + s.train_eval_size
        evals = evaluations_due(self.steps_done, self.total_steps, self.bpe, s.config.get("eval_every") or 0)
        progress = self.eval_progress
        testing = progress is not None and progress.split == "test"
        eval_left = evals * per_validation + (s.test_size if self.test is None and not testing else 0)
        if progress is not None:  # the rest of the evaluation under way
            eval_left += max(progress.total - progress.done, 0)
        elif self.validating:  # begun, nothing reported yet: all of it
            eval_left += per_validation
        if not s.train_eval_size and not s.test_size:  # a Monitor's loop, or a log from before they were
            return self.pace.eta(train_left, 0, self.batch_size)[0], False  # recorded: training only, "more than"
        return self.pace.eta(train_left, eval_left, self.batch_size)

    def lowest_val_loss(self) -> ev.EvalResult | None:
        vals = [e for e in self.evals if math.isfinite(e.loss)]
        return min(vals, key=lambda e: e.loss) if vals else None

    def at(self, e: ev.EvalResult | ev.CheckpointSaved) -> str:
        return at_done(e.epoch, e.batch, self.bpe)

    def diagnosis(self) -> str:
        """The engine's reading of the newest validation (diagnosis.diagnose)."""
        last = next((e for e in reversed(self.evals) if e.diagnosis), None)
        if last is not None:
            return f"{last.diagnosis} ({self.at(last)})"
        if self.evals:  # a loop of someone else's: validation only, no training side measured alike
            e = self.evals[-1]
            figures = f"loss {e.loss:.4f}" + "".join(f", {name} {figure(name, value)}" for name, value in self.other_metrics(e))
            lead = (f"Validation {self.accuracy_words} {100 * e.acc:.2f}% ({figures})" if e.acc is not None
                    else f"Validation {figures}")
            return (f"{lead} at {self.at(e)}. "
                    "No diagnosis: this run's loop measures no training figures the way it measures validation.")
        return NO_EVALUATION

    def other_metrics(self, e: ev.BatchMetrics | ev.EvalResult) -> list[tuple[str, float]]:
        """The event's figures besides loss and accuracy, by their names (finite ones)."""
        return [(name, value) for name, value in e.metrics.items()
                if name != self.accuracy_name and value is not None and math.isfinite(value)]

    # ---- folding events ----
    def apply(self, events: list[ev.Event]) -> None:
        for event in events:
            for line in self.course_log.lines(event):
                self._log(line)
            handler = getattr(self, "_on_" + type(event).__name__, None)
            if handler:
                handler(event)

    def _log(self, line: str) -> None:
        self.log_lines.append(line)
        self.new_log_lines.append(line)
        self.dirty.add("log")

    def _on_RunStarted(self, e: ev.RunStarted) -> None:
        self.started = e
        self.dirty.add("settings")
        self.epoch, self.steps_done = e.start_epoch, e.start_step
        self.step = max(e.start_step - 1, 0)
        # It says which figures the run has (an accuracy or not): every view drawn before it, again.
        self.dirty |= {"header", "layers", "metrics", "evals"}

    def _on_StatusChanged(self, e: ev.StatusChanged) -> None:
        self.dirty.add("header")  # the status itself is the run controller's (tui/controller.py)
        self.validating = e.status == RunStatus.VALIDATING.logged
        if e.status not in (RunStatus.VALIDATING.logged, RunStatus.TESTING.logged):
            self.eval_progress = None

    def _on_BatchMetrics(self, e: ev.BatchMetrics) -> None:
        self.epoch, self.batch, self.step = e.epoch, e.batch, e.step
        self.steps_done = e.step + 1
        self.images_per_s = e.images_per_s
        self._trainer_clock(e.elapsed_s)
        self.pace.add_batch(e.images_per_s)
        self._batches_seen = True
        self.loss_window.add(e.loss)
        if math.isfinite(e.loss) and (self.best_loss is None or e.loss < self.best_loss):
            self.best_loss = e.loss
        x = e.step / self.bpe if self.bpe else float(e.step)
        self.loss_history.add(x, e.loss)
        if e.acc is not None:
            self._acc_seen = True
            self.acc_window.add(e.acc)
            if math.isfinite(e.acc) and (self.best_acc is None or e.acc > self.best_acc):
                self.best_acc = e.acc
            self.acc_history.add(x, e.acc)
        if e.lr is not None:
            self.lr_history.add(x, e.lr)
        for name, value in e.metrics.items():
            if name != self.accuracy_name and value is not None:
                self.metric_windows.setdefault(name, Window(self._window)).add(value)
        self.dirty |= {"header", "metrics"}

    def _trainer_clock(self, elapsed_s: float) -> None:
        """The run's elapsed time from a trainer's clock; a resumed trainer's starts again from 0."""
        if elapsed_s < self.elapsed_s - self._earlier_lives_s:
            self._earlier_lives_s = self.elapsed_s
        self.elapsed_s = self._earlier_lives_s + elapsed_s

    def _on_EvalProgress(self, e: ev.EvalProgress) -> None:
        self.eval_progress = e
        if e.elapsed_s:
            self._trainer_clock(e.elapsed_s)
        self.pace.add_eval(e.done, e.seconds)
        self.dirty.add("header")

    def _on_EvalResult(self, e: ev.EvalResult) -> None:
        self.eval_progress = None
        self.dirty.add("header")
        if e.split == "test":
            self.test = e
        else:
            self.evals.append(e)
        self.dirty.add("evals")

    def _on_LayerStats(self, e: ev.LayerStats) -> None:
        self.layer_stats = e
        self.stats_history.append(e)
        self.dirty.add("layers")

    def _on_Mistakes(self, e: ev.Mistakes) -> None:
        self.mistakes = e
        self.dirty.add("mistakes")

    def _on_SnapshotTaken(self, e: ev.SnapshotTaken) -> None:
        self.snapshots.append(e)
        self.new_snapshot = e
        self.dirty.add("snapshots")

    def _on_CheckpointSaved(self, e: ev.CheckpointSaved) -> None:
        self.checkpoints += 1

    def _on_Alert(self, e: ev.Alert) -> None:
        self.dirty.add("alert")
        self.last_alert = e

    def _on_ErrorRaised(self, e: ev.ErrorRaised) -> None:
        if e.part:  # a part of the Monitor is off; the training goes on
            self.monitor_off[e.part] = e.message
            self.dirty.add("layers")
            self._on_Alert(ev.Alert("error", part_off(e)))
            return
        self.error = e
        self.dirty.add("error")

    def _on_Finished(self, e: ev.Finished) -> None:
        self.dirty |= {"header", "evals"}
