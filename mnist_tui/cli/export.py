"""`mnist-tui export RUN_DIR --tensorboard OUT --visualdl OUT`: a run's log in other tools' formats,
written by the same sinks a live run uses (mnist_tui/sinks/)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from mnist_tui.errors import UsageError
from mnist_tui.run import events as ev
from mnist_tui.run.folder import EVENTS, read_events
from mnist_tui.sinks import tensorboard, visualdl

SINKS = {"tensorboard": tensorboard, "visualdl": visualdl}  # option: the sink's module
NAMES = {"tensorboard": "TensorBoard", "visualdl": "VisualDL"}


def previous_export(kind: str, out: str | Path) -> list[Path]:
    return sorted(Path(out).glob(SINKS[kind].FILES)) if Path(out).is_dir() else []


def export(events: list[tuple[ev.Event, float | None]], kind: str, out: str | Path) -> int:
    """Write a run's events (each with its time) to `out` in TensorBoard's or VisualDL's format;
    returns events written."""
    module = SINKS[kind]
    sink = module.TensorBoardSink(out) if kind == "tensorboard" else module.VisualDLSink(out)
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
