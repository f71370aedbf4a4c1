"""`mnist-tui export RUN_DIR --tensorboard OUT --visualdl OUT --course-log FILE`: a run's log in
other tools' formats, or as headless training prints it, written by the same sinks a live run
uses (mnist_tui/sinks/)."""

from __future__ import annotations

import dataclasses
import io
import os
import sys
import warnings
from pathlib import Path

from mnist_tui import exit_codes
from mnist_tui.cli.usage import OneLineParser, fail, os_error_line
from mnist_tui.errors import UsageError
from mnist_tui.run import events as ev
from mnist_tui.run.folder import EVENTS, RunDir, read_events
from mnist_tui.sinks import tensorboard, visualdl
from mnist_tui.sinks.course_log import CoursePrinter

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
    events = [(in_this_folder(event, run_dir), _time(record)) for record in records
              if (event := ev.from_json(record)) is not None]
    if not events:
        raise UsageError(f"{path}: holds no event to export")
    for warning in caught:
        print(f"mnist-tui: warning: {warning.message}", file=sys.stderr)
    return events


def in_this_folder(event: ev.Event, run_dir: str | Path) -> ev.Event:
    """A snapshot as this folder holds it: the log records where the run was written, and a folder
    moved or copied since keeps the arrays in its own snapshots/ (the recorded path is then gone,
    or another folder's)."""
    if isinstance(event, ev.SnapshotTaken):
        here = RunDir(Path(run_dir)).snapshots / Path(event.path).name
        if here.is_file():
            return dataclasses.replace(event, path=str(here))
    return event


def _time(record: dict) -> float | None:
    when = record.get("time")
    return when if isinstance(when, (int, float)) and not isinstance(when, bool) else None


def export_course_log(events: list[tuple[ev.Event, float | None]], out: str) -> int:
    """Write the course log headless training prints (sinks/course_log.py) to the file `out`, or
    to stdout for "-"; returns the lines written."""
    text = io.StringIO()
    printer = CoursePrinter(check_shape=False, out=text)
    for event, _when in events:
        printer(event)
    if out == "-":
        sys.stdout.write(text.getvalue())
    else:
        Path(out).write_text(text.getvalue(), encoding="utf-8")
    return text.getvalue().count("\n")


def main(argv: list[str]) -> int:
    p = OneLineParser(prog="mnist-tui export",
                      description="Write a run's log for TensorBoard or VisualDL, or its course log as headless training prints it.")
    p.add_argument("run_dir")
    p.add_argument("--tensorboard", metavar="OUT", help="write TensorBoard event files to OUT")
    p.add_argument("--visualdl", metavar="OUT", help="write VisualDL records to OUT")
    p.add_argument("--course-log", metavar="FILE", help="write the course's log lines to FILE (- for stdout)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUT or FILE (else refused)")
    args = p.parse_args(argv)
    if not os.path.lexists(Path(args.run_dir) / EVENTS):
        return fail(f"{args.run_dir}: no {EVENTS} there (not a run folder)")
    if not (args.tensorboard or args.visualdl or args.course_log):
        return fail("export: name --tensorboard OUT, --visualdl OUT and/or --course-log FILE")
    wanted = [(kind, getattr(args, kind)) for kind in ("tensorboard", "visualdl") if getattr(args, kind)]
    for kind, out in wanted:
        if previous_export(kind, out) and not args.overwrite:
            return fail(f"export: {out} already holds a {NAMES[kind]} export (its curves would be doubled); "
                        "--overwrite replaces it")
    if args.course_log not in (None, "-") and os.path.lexists(args.course_log) and not args.overwrite:
        return fail(f"export: {args.course_log} already exists; --overwrite replaces it")
    try:
        events = read_run_log(args.run_dir)  # before any output folder is made or emptied
        for kind, out in wanted:
            for old in previous_export(kind, out):
                old.unlink()
            print(f"{kind}: {export(events, kind, out)} events written to {out}")
        if args.course_log:
            lines = export_course_log(events, args.course_log)
            if args.course_log != "-":
                print(f"course log: {lines} lines written to {args.course_log}")
    except UsageError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(os_error_line(exc))
    return exit_codes.OK
