"""What a run's events become in a dashboard (TensorBoard, VisualDL): scalars, histograms and
images under fixed tags. One mapping for both tools, so a live `--tensorboard DIR` and an
`export` of the same run write the same; each tool's module only says how to write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_tui.run import events as ev
from mnist_tui.run.diagnosis import LayerFlags

IMAGE_TAGS = {"kernel": "kernel", "feature_map": "feature_map", "matrix": "weights"}  # panel kind: tag
STAT_SCALARS = ("mean", "std", "min", "max", "zero_frac", "dead_frac", "grad_norm", "update_ratio_log10")
FLAGS_TAG = "layers/flags"  # a text entry at each refresh where a layer's flag appears
EXPORT_HINT = "pip install 'mnist-tui[export]' (tensorboardX for TensorBoard, visualdl for VisualDL)"


class BoardSink:
    """Called with each event (live: from the bus; export: with the time it was logged at).
    The layers' flags (diagnosis.LayerFlags) go in as text, one entry at each statistics refresh
    where a flag other than "ok" appears, in the words the app and the headless log use."""

    def __init__(self) -> None:
        self.flags = LayerFlags()

    def scalar(self, tag: str, value: float, step: int, when: float | None) -> None:
        raise NotImplementedError

    def histogram(self, tag: str, values: np.ndarray, step: int, when: float | None) -> None:
        raise NotImplementedError

    def image(self, tag: str, grey: np.ndarray, step: int, when: float | None) -> None:
        """`grey`: a 2-D uint8 picture."""
        raise NotImplementedError

    def text(self, tag: str, text: str, step: int, when: float | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __call__(self, event: ev.Event, when: float | None = None) -> None:
        if isinstance(event, ev.RunStarted):
            self.flags.start(event.layers)
        elif isinstance(event, ev.BatchMetrics):
            self._scalar("train/loss", event.loss, event.step, when)
            self._scalar("train/lr", event.lr, event.step, when)
            for name, value in _named_metrics(event):
                self._scalar(f"train/{name}", value, event.step, when)
        elif isinstance(event, ev.EvalResult):
            split = "eval" if event.split == "val" else "test"
            for name, value in (("loss", event.loss), *_named_metrics(event), ("train_loss", event.train_loss),
                                ("train_acc", event.train_acc), ("gap", event.gap)):
                self._scalar(f"{split}/{name}", value, event.step, when)
        elif isinstance(event, ev.LayerStats):
            for row in event.layers:
                for key in STAT_SCALARS:
                    self._scalar(f"layers/{row['name']}/{key}", row.get(key), event.step, when)
            self.flags.update(event.layers)
            if self.flags.appeared:
                lines = [f"{name}: {words}" for name, words in self.flags.appeared.items()]
                self.text(FLAGS_TAG, "\n\n".join(lines), event.step, when)  # a paragraph each in Markdown
        elif isinstance(event, ev.RankTimes):
            for rank, (step_ms, allreduce_ms) in enumerate(zip(event.step_ms, event.allreduce_ms)):
                self._scalar(f"ranks/{rank}/step_ms", step_ms, event.step, when)
                self._scalar(f"ranks/{rank}/allreduce_ms", allreduce_ms, event.step, when)
        elif isinstance(event, ev.SnapshotTaken):
            self._snapshot(event, when)

    def _scalar(self, tag: str, value: float | None, step: int, when: float | None) -> None:
        if value is not None and np.isfinite(value):
            self.scalar(tag, value, step, when)

    def _snapshot(self, event: ev.SnapshotTaken, when: float | None) -> None:
        """The snapshot's maps as images, one tag per layer and kind (what a picture shows, the
        channel say, is in its caption), and the full arrays saved next to the log as histograms."""
        for panel in event.of_kind(*IMAGE_TAGS):
            layer = panel.get("layer", "")
            self.image(f"snapshot/{layer}/{IMAGE_TAGS[panel['kind']]}", picture(panel["array"], image_label(panel)),
                       event.step, when)
        path = Path(event.path)
        if path.is_file():
            with np.load(path) as arrays:
                for key in arrays.files:
                    values = np.asarray(arrays[key], dtype=np.float32).ravel()
                    values = values[np.isfinite(values)]
                    if arrays[key].ndim >= 1 and arrays[key].size > 1 and values.size:
                        self.histogram(f"snapshot/{key}", values, event.step, when)


def picture(grid, label: str) -> np.ndarray:
    """A 2-D map, scaled to 0-255 grey, enlarged so a 5x5 kernel is visible, under a caption."""
    grid = np.nan_to_num(np.asarray(grid, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(grid.min()), float(grid.max())
    grey = ((grid - low) / (high - low if high > low else 1.0) * 255).astype(np.uint8)
    scale = max(1, 112 // max(grey.shape))
    return captioned(np.kron(grey, np.ones((scale, scale), dtype=np.uint8)), label)


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


def _named_metrics(event: ev.BatchMetrics | ev.EvalResult) -> list[tuple[str, float | None]]:
    """Every metric under the name the training code gave it (our own trainer's: "acc")."""
    return list(event.metrics.items()) if event.metrics else [("acc", event.acc)]
