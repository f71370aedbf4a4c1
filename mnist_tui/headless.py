"""Headless mode: the course's log lines on stdout, the exit status tells how the run ended."""

from __future__ import annotations

import signal
import sys

from .engine.events import Alert, BatchMetrics, ErrorRaised, EvalResult, Event, RunStarted
from .engine.session import Session

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130
LOG_EVERY = 200


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


class CoursePrinter:
    """Prints what the course prints; runs on the training thread, so it only formats and writes."""

    def __init__(self, check_shape: bool, out=None) -> None:
        self.check_shape = check_shape
        self.out = out or sys.stdout

    def __call__(self, event: Event) -> None:
        line = None
        if isinstance(event, RunStarted):
            line = f"run {event.run_dir} on {event.device}: {event.train_size} train, {event.val_size} validation images"
            if self.check_shape:
                line += "\n" + course_shape_report(event.layers, event.config["batch_size"])
        elif isinstance(event, BatchMetrics) and event.batch % LOG_EVERY == 0:
            line = event.course_line()
        elif isinstance(event, EvalResult):
            label = "validation" if event.split == "val" else "test"
            line = f"[{label}] epoch: {event.epoch}, batch: {event.batch}, loss={event.loss:.6f}, acc={event.acc:.6f}"
            if event.split == "test":
                line += f"\ntest accuracy: {event.acc:.4f}"
            elif event.diagnosis:
                line += f"\n[diagnosis] {event.diagnosis}"
        elif isinstance(event, Alert):
            line = f"{event.level}: {event.message}"
        elif isinstance(event, ErrorRaised):
            line = f"error: {event.message} (traceback in {event.log_path})"
        if line:
            print(line, file=self.out, flush=True)


def run_headless(session: Session, check_shape: bool = False, err=None) -> int:
    err = err or sys.stderr
    session.bus.subscribe(CoursePrinter(check_shape))
    trainer = session.make_trainer()
    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        trainer.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = session.run_trainer()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        session.close()
    if status == "error":
        print(f"mnist-tui: training failed, traceback in {session.run.log_path}", file=err)
    return {"done": EXIT_OK, "diverged": EXIT_DIVERGED, "stopped": EXIT_INTERRUPTED}.get(status, 1)
