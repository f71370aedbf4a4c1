"""The course's log lines (`epoch: 0, batch: 200, loss is: [...]`, `[validation] ...`): the
headless trainer prints them, the app's Training tab shows them."""

from __future__ import annotations

import sys

from mnist_tui.run.events import (
    Alert,
    BatchMetrics,
    ErrorRaised,
    EvalResult,
    Event,
    RankTimes,
    RunStarted,
    StatusChanged,
)

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
            line = event.line()
            if event.split == "test" and event.acc is not None:
                line += f"\ntest accuracy: {event.acc:.4f}"
            elif event.diagnosis:
                line += f"\n[diagnosis] {event.diagnosis}"
        elif isinstance(event, RankTimes):
            line = event.line()
        elif isinstance(event, StatusChanged) and event.status == "resumed":  # from where, or started again
            line = f"resumed: {event.detail}"
        elif isinstance(event, Alert):
            line = f"{event.level}: {event.message}"
        elif isinstance(event, ErrorRaised):
            line = f"error: {event.message} (traceback in {event.log_path})"
        if line:
            print(line, file=self.out, flush=True)
