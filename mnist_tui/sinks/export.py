"""`mnist-tui export RUN_DIR --tensorboard OUT --visualdl OUT`: a run's log in other tools' formats.

TensorBoard's through `tensorboardX` (it needs neither TensorFlow nor TensorBoard), VisualDL's
through `visualdl.LogWriter`; both are optional (`pip install mnist-tui[export]`). One sink class
writes either, from the same events, so an export and a live `--tensorboard DIR` write the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from mnist_tui.errors import UsageError
from mnist_tui.run import events as ev
from mnist_tui.run.folder import EVENTS, read_events

IMAGE_TAGS = {"kernel": "kernel", "feature_map": "feature_map", "matrix": "weights"}  # panel kind: tag
NAMES = {"tensorboard": "TensorBoard", "visualdl": "VisualDL"}
PREVIOUS = {"tensorboard": "events.out.tfevents.*", "visualdl": "vdlrecords.*"}  # an earlier export's files
STAT_SCALARS = ("mean", "std", "min", "max", "zero_frac", "dead_frac", "grad_norm", "update_ratio_log10")
EXPORT_HINT = "pip install 'mnist-tui[export]' (tensorboardX for TensorBoard, visualdl for VisualDL)"


class LogSink:
    """Writes events as scalars, histograms and images through a TensorBoard or VisualDL writer."""

    def __init__(self, kind: str, logdir: str | Path) -> None:
        self.kind = kind
        try:
            if kind == "tensorboard":
                from tensorboardX import SummaryWriter

                self.writer = SummaryWriter(logdir=str(logdir))
            else:
                from visualdl import LogWriter

                self.writer = LogWriter(logdir=str(logdir))
        except ImportError as exc:
            raise UsageError(f"--{kind} needs {exc.name}: {EXPORT_HINT}") from None

    def scalar(self, tag: str, value: float | None, step: int, when: float | None) -> None:
        if value is None or not np.isfinite(value):
            return
        if self.kind == "tensorboard":
            self.writer.add_scalar(tag, value, step, walltime=when)
        else:
            self.writer.add_scalar(tag=tag, value=value, step=step, walltime=int(1000 * when) if when else None)

    def histogram(self, tag: str, values: np.ndarray, step: int, when: float | None) -> None:
        values = np.asarray(values, dtype=np.float32).ravel()
        values = values[np.isfinite(values)]
        if not values.size:
            return
        if self.kind == "tensorboard":
            self.writer.add_histogram(tag, values, step, walltime=when)
        else:
            self.writer.add_histogram(tag=tag, values=values, step=step, walltime=int(1000 * when) if when else None)

    def image(self, tag: str, grid: np.ndarray, label: str, step: int, when: float | None) -> None:
        """A 2-D map, scaled to 0-255 grey, enlarged so a 5x5 kernel is visible, under a caption."""
        grid = np.nan_to_num(np.asarray(grid, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(grid.min()), float(grid.max())
        grey = ((grid - low) / (high - low if high > low else 1.0) * 255).astype(np.uint8)
        scale = max(1, 112 // max(grey.shape))
        grey = captioned(np.kron(grey, np.ones((scale, scale), dtype=np.uint8)), label)
        if self.kind == "tensorboard":
            self.writer.add_image(tag, grey, step, walltime=when, dataformats="HW")
        else:
            self.writer.add_image(tag=tag, img=np.repeat(grey[:, :, None], 3, axis=2), step=step,
                                  walltime=int(1000 * when) if when else None)

    def __call__(self, event: ev.Event, when: float | None = None) -> None:
        """One event (live: from the bus; export: with the time it was logged at)."""
        if isinstance(event, ev.BatchMetrics):
            self.scalar("train/loss", event.loss, event.step, when)
            self.scalar("train/lr", event.lr, event.step, when)
            for name, value in _named_metrics(event):
                self.scalar(f"train/{name}", value, event.step, when)
        elif isinstance(event, ev.EvalResult):
            split = "eval" if event.split == "val" else "test"
            for name, value in (("loss", event.loss), *_named_metrics(event), ("train_loss", event.train_loss),
                                ("train_acc", event.train_acc), ("gap", event.gap)):
                self.scalar(f"{split}/{name}", value, event.step, when)
        elif isinstance(event, ev.LayerStats):
            for row in event.layers:
                for key in STAT_SCALARS:
                    self.scalar(f"layers/{row['name']}/{key}", row.get(key), event.step, when)
        elif isinstance(event, ev.RankTimes):
            for rank, (step_ms, allreduce_ms) in enumerate(zip(event.step_ms, event.allreduce_ms)):
                self.scalar(f"ranks/{rank}/step_ms", step_ms, event.step, when)
                self.scalar(f"ranks/{rank}/allreduce_ms", allreduce_ms, event.step, when)
        elif isinstance(event, ev.SnapshotTaken):
            self._snapshot(event, when)

    def _snapshot(self, event: ev.SnapshotTaken, when: float | None) -> None:
        """The snapshot's maps as images, one tag per layer and kind (what a picture shows, the
        channel say, is in its caption), and the full arrays saved next to the log as histograms."""
        for panel in event.of_kind(*IMAGE_TAGS):
            layer = panel.get("layer", "")
            self.image(f"snapshot/{layer}/{IMAGE_TAGS[panel['kind']]}", panel["array"], image_label(panel),
                       event.step, when)
        path = Path(event.path)
        if path.is_file():
            with np.load(path) as arrays:
                for key in arrays.files:
                    if arrays[key].ndim >= 1 and arrays[key].size > 1:
                        self.histogram(f"snapshot/{key}", arrays[key], event.step, when)

    def close(self) -> None:
        self.writer.close()


def image_label(panel: dict) -> str:
    layer, index = panel.get("layer", ""), panel.get("index", "")
    if panel["kind"] == "kernel":
        return f"{layer}.weight{index}"
    if panel["kind"] == "feature_map":
        return f"{layer} channel {panel.get('channel', 0)}{index}, sample 0"
    return f"{layer}.weight, a row per output"


def captioned(grey: np.ndarray, label: str) -> np.ndarray:
    """`grey` under a strip with `label` written in it: TensorBoard's and VisualDL's images have
    no caption of their own, and the tag is the same for every channel shown."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    _left, _top, right, bottom = font.getbbox(label)
    strip = bottom + 4
    canvas = Image.new("L", (max(grey.shape[1], right + 4), grey.shape[0] + strip), 0)
    ImageDraw.Draw(canvas).text((2, 1), label, fill=255, font=font)
    canvas.paste(Image.fromarray(grey), (0, strip))
    return np.asarray(canvas)


def previous_export(kind: str, out: str | Path) -> list[Path]:
    return sorted(Path(out).glob(PREVIOUS[kind])) if Path(out).is_dir() else []


def export(events: list[tuple[ev.Event, float | None]], kind: str, out: str | Path) -> int:
    """Write a run's events (each with its time) to `out` in TensorBoard's or VisualDL's format;
    returns events written."""
    sink = LogSink(kind, out)
    for event, when in events:
        sink(event, when)
    sink.close()
    return len(events)


def read_run_log(run_dir: str | Path) -> list[tuple[ev.Event, float | None]]:
    """The run's events with their times. UsageError (one line) when the log is not a file or holds
    no event; lines that are not events are skipped, each named in a warning on stderr."""
    path = Path(run_dir) / EVENTS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = read_events(path)
    events = [(event, _time(record)) for record in records if (event := ev.from_json(record)) is not None]
    if not events:
        raise UsageError(f"{path}: holds no event to export")
    for warning in caught:
        print(f"mnist-tui: warning: {warning.message}", file=sys.stderr)
    return events


def _time(record: dict) -> float | None:
    when = record.get("time")
    return when if isinstance(when, (int, float)) and not isinstance(when, bool) else None


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mnist-tui export", description="Write a run's log for TensorBoard or VisualDL.")
    p.add_argument("run_dir")
    p.add_argument("--tensorboard", metavar="OUT", help="write TensorBoard event files to OUT")
    p.add_argument("--visualdl", metavar="OUT", help="write VisualDL records to OUT")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUT (else refused)")
    args = p.parse_args(argv)
    if not os.path.lexists(Path(args.run_dir) / EVENTS):
        print(f"mnist-tui: {args.run_dir}: no {EVENTS} there (not a run folder)", file=sys.stderr)
        return 2
    if not (args.tensorboard or args.visualdl):
        print("mnist-tui: export: name --tensorboard OUT and/or --visualdl OUT", file=sys.stderr)
        return 2
    wanted = [(kind, getattr(args, kind)) for kind in ("tensorboard", "visualdl") if getattr(args, kind)]
    for kind, out in wanted:
        if previous_export(kind, out) and not args.overwrite:
            print(f"mnist-tui: export: {out} already holds a {NAMES[kind]} export (its curves would be doubled); "
                  "--overwrite replaces it", file=sys.stderr)
            return 2
    try:
        events = read_run_log(args.run_dir)  # before any output folder is made or emptied
        for kind, out in wanted:
            for old in previous_export(kind, out):
                old.unlink()
            print(f"{kind}: {export(events, kind, out)} events written to {out}")
    except UsageError as exc:
        print(f"mnist-tui: {exc}", file=sys.stderr)
        return 2
    return 0


def _named_metrics(event: ev.BatchMetrics | ev.EvalResult) -> list[tuple[str, float | None]]:
    """Every metric under the name the training code gave it (our own trainer's: "acc")."""
    return list(event.metrics.items()) if event.metrics else [("acc", event.acc)]
