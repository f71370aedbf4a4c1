"""VisualDL records through `visualdl.LogWriter` (the course's visualisation tool), written by
`mnist-tui export --visualdl`; optional: `mnist-tui[export]`. VisualDL's times are milliseconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_tui.errors import UsageError
from mnist_tui.sinks.board import EXPORT_HINT, BoardSink

FILES = "vdlrecords.*"  # what an earlier export left in a folder


class VisualDLSink(BoardSink):
    def __init__(self, logdir: str | Path) -> None:
        try:
            from visualdl import LogWriter
        except ImportError as exc:
            raise UsageError(f"--visualdl needs {exc.name}: {EXPORT_HINT}") from None
        super().__init__()
        self.writer = LogWriter(logdir=str(logdir))

    def scalar(self, tag: str, value: float, step: int, when: float | None) -> None:
        self.writer.add_scalar(tag=tag, value=value, step=step, walltime=_ms(when))

    def histogram(self, tag: str, values: np.ndarray, step: int, when: float | None) -> None:
        self.writer.add_histogram(tag=tag, values=values, step=step, walltime=_ms(when))

    def image(self, tag: str, grey: np.ndarray, step: int, when: float | None) -> None:
        self.writer.add_image(tag=tag, img=np.repeat(grey[:, :, None], 3, axis=2), step=step, walltime=_ms(when))

    def text(self, tag: str, text: str, step: int, when: float | None) -> None:
        self.writer.add_text(tag=tag, text_string=text, step=step, walltime=_ms(when))

    def close(self) -> None:
        self.writer.close()


def _ms(when: float | None) -> int | None:
    return int(1000 * when) if when else None
