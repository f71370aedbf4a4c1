"""The course's log lines (`epoch: 0, batch: 200, loss is: [...]`, `[validation] ...`) and the
few the app adds (checkpoints, snapshots, layer flags, alerts): one formatter, so the headless
trainer prints exactly what the app's Training tab shows. The course's own lines keep its format
and count epochs and batches from 0; the lines the app adds number them for people, from 1.
"""

from __future__ import annotations

import sys

from mnist_tui.run import events as ev
from mnist_tui.run.diagnosis import LayerFlags

COURSE_LOG_EVERY = 200  # the course prints a batch line every 200 batches


def log_every(batches_per_epoch: int) -> int:
    """The course's 200, or less on small subsets so an epoch still shows a few lines."""
    return COURSE_LOG_EVERY if batches_per_epoch >= COURSE_LOG_EVERY else max(1, batches_per_epoch // 4)


def at_done(epoch: int, batches_done: int, bpe: int = 0) -> str:
    """A position given as (epoch index, batches done in it), as evaluations and checkpoints give
    it, for people: epochs count from 1, so the end of the first epoch is "epoch 1, batch 781"."""
    if batches_done == 0 and epoch > 0 and bpe:  # at an epoch's start: the end of the previous one
        return f"epoch {epoch}, batch {bpe}"
    return f"epoch {epoch + 1}, batch {batches_done}"


def at_index(epoch: int, batch: int) -> str:
    """A position given as the indexes of the last batch run (statistics, snapshots), for people."""
    return f"epoch {epoch + 1}, batch {batch + 1}"


def course_shape_report(layers: list[dict], batch_size: int) -> str:
    """The course's structure check: hyper-parameters, then the output shape of every layer."""
    by_name = {row["name"]: row for row in layers}
    lines = ["########## print network layer's superparams ##############"]
    for name in ("conv1", "conv2"):
        row = by_name[name]
        lines.append(f"{name}-- kernel_size:{row['param_shapes']['weight']}, padding:{row['hyper']['padding']}, "
                     f"stride:{row['hyper']['stride']}")
    fc = by_name["fc"]["param_shapes"]
    lines.append(f"fc-- weight_size:{fc['weight']}, bias_size_{fc['bias']}")
    lines += ["", "########## print shape of features of every layer ###############",
              f"inputs_shape: {[batch_size, 1, 28, 28]}"]
    for i, row in enumerate(layers, start=1):
        lines.append(f"outputs{i}_shape: {row['output_shape']}".ljust(38) + f"({row['name']})")
    return "\n".join(lines)


def batch_line(e: ev.BatchMetrics) -> str:
    """The course's batch line, every metric under its own name as Paddle prints it."""
    return f"epoch: {e.epoch}, batch: {e.batch}, loss is: [{e.loss:.6f}]" + _metric_words(e, " is ")


def eval_line(e: ev.EvalResult, bpe: int = 0) -> str:
    """`[validation] epoch: 0, batch: 781, loss=..., acc=...`. An evaluation logged at an epoch's
    start (the test, after the last epoch) is given, as a validation is, at the previous one's end."""
    epoch, batch = (e.epoch - 1, bpe) if e.batch == 0 and e.epoch > 0 and bpe else (e.epoch, e.batch)
    label = "validation" if e.split == "val" else "test"
    return f"[{label}] epoch: {epoch}, batch: {batch}, loss={e.loss:.6f}" + _metric_words(e, "=")


def ranks_line(e: ev.RankTimes) -> str:
    ranks = " · ".join(f"{r}: {s:.1f} ({a:.1f})" for r, (s, a) in enumerate(zip(e.step_ms, e.allreduce_ms)))
    return f"[ranks] ms a batch (in the all-reduce): {ranks}"  # fits 80 columns for two ranks


def flags_line(e: ev.LayerStats, flags: dict[str, str]) -> str:
    """The layers whose flag just appeared, at the statistics' batch (the course's numbering)."""
    return f"[layers] epoch: {e.epoch}, batch: {e.batch}, " + " · ".join(f"{name}: {text}" for name, text in flags.items())


def part_off(e: ev.ErrorRaised) -> str:
    """A part of the Monitor failed and is off; the training goes on."""
    return f"the Monitor's {e.part} failed and is off, training goes on: {e.message} (traceback in {e.log_path})"


def _metric_words(e: ev.BatchMetrics | ev.EvalResult, sep: str) -> str:
    """", acc is [0.9]"-style words for every metric under its own name; none without metrics."""
    figures = e.metrics.items() if e.metrics else ([] if e.acc is None else [("acc", e.acc)])
    if sep == " is ":
        return "".join(f", {name} is [{value:.6f}]" for name, value in figures)
    return "".join(f", {name}={value:.6f}" for name, value in figures)


class CourseLog:
    """Fed every event in order, gives the log lines it makes (most make none). Keeps what the
    lines depend on: batches per epoch, the layers' flags, the last alert (a status that repeats
    it is not said twice)."""

    def __init__(self, check_shape: bool = False) -> None:
        self.check_shape = check_shape
        self.bpe = 0
        self.flags = LayerFlags()
        self._last_alert = ""

    def lines(self, e: ev.Event) -> list[str]:
        if isinstance(e, ev.RunStarted):
            self.bpe = e.batches_per_epoch
            self.flags.start(e.layers)
            lines = [f"run {e.run_dir} on {e.device}: {e.train_size} train, {e.val_size} validation images"]
            if self.check_shape:
                lines.append(course_shape_report(e.layers, e.config["batch_size"]))
            return lines
        if isinstance(e, ev.BatchMetrics):
            return [batch_line(e)] if e.batch % log_every(self.bpe or 1) == 0 else []
        if isinstance(e, ev.EvalResult):
            lines = [eval_line(e, self.bpe)]
            if e.split == "test" and e.acc is not None:
                lines.append(f"test accuracy: {e.acc:.4f}")
            elif e.split == "val" and e.diagnosis:
                lines.append(f"[diagnosis] {e.diagnosis}")
            return lines
        if isinstance(e, ev.LayerStats):
            self.flags.update(e.layers)
            return [flags_line(e, self.flags.appeared)] if self.flags.appeared else []
        if isinstance(e, ev.RankTimes):
            return [ranks_line(e)]
        if isinstance(e, ev.StatusChanged):
            return [f"{e.status}: {e.detail}"] if e.detail and e.detail != self._last_alert else []
        if isinstance(e, ev.Alert):
            self._last_alert = e.message
            return [f"{e.level}: {e.message}"]
        if isinstance(e, ev.ErrorRaised):
            if e.part:
                return [f"error: {part_off(e)}"]
            return [f"error: {e.message} (traceback in {e.log_path})"]
        if isinstance(e, ev.SnapshotTaken):
            return [f"snapshot at {at_index(e.epoch, e.batch)}: {e.path}"]
        if isinstance(e, ev.CheckpointSaved):
            return [f"checkpoint at {at_done(e.epoch, e.batch, self.bpe)}: {e.path}"]
        if isinstance(e, ev.Finished):  # its test accuracy is in the test's lines
            return [f"finished: {e.status}"]
        return []


class CoursePrinter:
    """The headless trainer's output: the course log on stdout. Runs on the training thread, so
    it only formats and writes."""

    def __init__(self, check_shape: bool, out=None) -> None:
        self.log = CourseLog(check_shape)
        self.out = out or sys.stdout

    def __call__(self, event: ev.Event) -> None:
        lines = self.log.lines(event)
        if lines:
            print("\n".join(lines), file=self.out, flush=True)
