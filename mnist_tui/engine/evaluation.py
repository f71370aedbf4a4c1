"""Evaluation of a split in eval mode: per-image loss, prediction and confidence, fetched once,
and what the course's diagnosis reads from them (accuracy, confusion, the worst mistakes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn.functional as F

from mnist_tui.engine.data import Split

EVAL_BATCH = 1000
PROGRESS_EVERY_S = 0.5  # how often an evaluation reports how far it has got


@dataclass
class Evaluation:
    """Per-image results on a split: loss, predicted class, its softmax probability, true label."""

    losses: np.ndarray
    pred: np.ndarray
    confidence: np.ndarray
    labels: np.ndarray

    @property
    def loss(self) -> float:
        return float(self.losses.mean())

    @property
    def acc(self) -> float:
        return float((self.pred == self.labels).mean())

    def confusion(self, classes: int = 10) -> np.ndarray:
        """[true][predicted] counts."""
        return np.bincount(self.labels * classes + self.pred, minlength=classes * classes).reshape(classes, classes)

    def worst(self, n: int) -> np.ndarray:
        """Indices of the n mistakes with the highest loss (the most confidently wrong), worst first."""
        wrong = np.flatnonzero(self.pred != self.labels)
        return wrong[np.argsort(-self.losses[wrong], kind="stable")][:n]


def per_image(model: paddle.nn.Layer, x, y):
    """[n, 3] device tensor, without gradients: each image's cross-entropy, predicted class and
    its softmax probability, in the batch's order."""
    with paddle.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y, reduction="none").reshape([-1])
        probs = F.softmax(logits, axis=1)
        return paddle.stack([loss, probs.argmax(axis=1).astype("float32"), probs.max(axis=1)], axis=1)


def evaluate(model: paddle.nn.Layer, split: Split, between: Callable | None = None,
             progress: Callable[[int], None] | None = None) -> Evaluation:
    """Every image of `split` through `per_image` with `model` in eval mode; one host sync at the end.
    `between`: called before each chunk (rank 0 keeps the other ranks waiting). `progress`: told
    the images done every PROGRESS_EVERY_S, each time after a small host sync, so the count is of
    images the device has finished rather than queued."""
    model.eval()
    chunks = []
    reported = time.perf_counter()
    for start in range(0, len(split), EVAL_BATCH):
        if between is not None:
            between()
        x = paddle.to_tensor(split.images[start : start + EVAL_BATCH])
        y = paddle.to_tensor(split.labels[start : start + EVAL_BATCH][:, None])
        chunks.append(per_image(model, x, y))
        if progress is not None and time.perf_counter() - reported >= PROGRESS_EVERY_S:
            chunks[-1][-1, 0].numpy()  # waits for this chunk: a few syncs a second, cheap
            reported = time.perf_counter()
            progress(min(start + EVAL_BATCH, len(split)))
    model.train()
    loss, pred, confidence = paddle.concat(chunks).numpy().T
    return Evaluation(loss, pred.astype(np.int64), confidence, split.labels)


def worst_digits(result: Evaluation, split: Split, n: int) -> list[dict]:
    """The n worst mistakes as the Mistakes event carries them (28x28 pixels as hex bytes)."""
    pixels = split.images[:, 0]
    return [{"index": int(i), "label": int(result.labels[i]), "pred": int(result.pred[i]),
             "confidence": round(float(result.confidence[i]), 4),
             "image": np.round((pixels[i] + 1.0) * 127.5).astype(np.uint8).tobytes().hex()}
            for i in result.worst(n)]
