"""TensorBoard event files through `tensorboardX` (it needs neither TensorFlow nor TensorBoard),
live (`--tensorboard DIR`) and by `mnist-tui export --tensorboard`; optional: `mnist-tui[export]`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_tui.errors import UsageError
from mnist_tui.sinks.board import EXPORT_HINT, BoardSink

FILES = "events.out.tfevents.*"  # what an earlier export left in a folder


class TensorBoardSink(BoardSink):
    def __init__(self, logdir: str | Path) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise UsageError(f"--tensorboard needs {exc.name}: {EXPORT_HINT}") from None
        super().__init__()
        self.writer = SummaryWriter(logdir=str(logdir))

    def scalar(self, tag: str, value: float, step: int, when: float | None) -> None:
        self.writer.add_scalar(tag, value, step, walltime=when)

    def histogram(self, tag: str, values: np.ndarray, step: int, when: float | None) -> None:
        self.writer.add_histogram(tag, values, step, walltime=when)

    def image(self, tag: str, grey: np.ndarray, step: int, when: float | None) -> None:
        self.writer.add_image(tag, grey, step, walltime=when, dataformats="HW")

    def text(self, tag: str, text: str, step: int, when: float | None) -> None:
        self.writer.add_text(tag, text, step, walltime=when)

    def close(self) -> None:
        self.writer.close()
