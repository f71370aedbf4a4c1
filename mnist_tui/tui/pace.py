"""How fast a run goes and how long it has left, from its events alone (no wall clock, so a
finished run's log gives the same figures as its live run did). No Textual: tested alone.

The engine's rate for a batch measures training only (the clock restarts after every evaluation
and on resuming from a pause), so the images/s here never counts validation or a pause. The ETA
adds the evaluations still due at the rate the last one ran.
"""

from __future__ import annotations

import collections
import math

RATE_WINDOW_S = 20.0  # the moving average's span, in seconds of training
ETA_BLEND = 0.3  # each new estimate moves the shown ETA this much of the way (smooths jumps)


def evaluations_due(done_steps: int, total_steps: int, bpe: int, eval_every: int) -> int:
    """Validations still to come after `done_steps` batches: one at every epoch's end, and one every
    `eval_every` batches that does not fall on an epoch's end (the trainer's rule)."""
    if bpe <= 0 or total_steps <= done_steps:
        return 0
    def upto(n: int, every: int) -> int:
        return n // every if every > 0 else 0
    ends = upto(total_steps, bpe) - upto(done_steps, bpe)
    extra = 0
    if eval_every > 0:
        lcm = eval_every * bpe // math.gcd(eval_every, bpe)
        extra = (upto(total_steps, eval_every) - upto(done_steps, eval_every)) - \
                (upto(total_steps, lcm) - upto(done_steps, lcm))
    return ends + extra


class Pace:
    """Training rate (a moving average over training time), the training time and batch count of
    the whole run, and the evaluation rate last measured."""

    def __init__(self) -> None:
        self._recent: collections.deque[float] = collections.deque()  # seconds per image of recent batches
        self._recent_s = 0.0  # their sum, times the batch size: training seconds in the window
        self.batches = 0
        self.train_s_per_image = 0.0  # summed over every batch: the run's training time per image
        self.eval_images_per_s: float | None = None
        self.eta_shown: float | None = None

    def add_batch(self, images_per_s: float) -> None:
        if not (math.isfinite(images_per_s) and images_per_s > 0):
            return
        per_image = 1.0 / images_per_s
        self.batches += 1
        self.train_s_per_image += per_image
        self._recent.append(per_image)
        self._recent_s += per_image

    def rate(self, batch_size: int) -> float | None:
        """Images a second over the last RATE_WINDOW_S seconds of training (None before any batch)."""
        while len(self._recent) > 1 and (self._recent_s - self._recent[0]) * batch_size >= RATE_WINDOW_S:
            self._recent_s -= self._recent.popleft()
        return len(self._recent) / self._recent_s if self._recent else None

    def mean_rate(self) -> float | None:
        """Images a second over all the run's training time."""
        return self.batches / self.train_s_per_image if self.batches else None

    def add_eval(self, done: int, seconds: float) -> None:
        if done > 0 and seconds > 0:
            self.eval_images_per_s = done / seconds

    def eta(self, train_images_left: int, eval_images_left: int, batch_size: int) -> tuple[float | None, bool]:
        """(seconds left, whether they include the evaluations): without a measured evaluation yet,
        only the training part is known, and the caller says so. Smoothed across calls."""
        rate = self.rate(batch_size) if train_images_left else None
        if train_images_left and rate is None:
            return None, False
        estimate = train_images_left / rate if train_images_left else 0.0
        complete = not eval_images_left or self.eval_images_per_s is not None
        if eval_images_left and self.eval_images_per_s:
            estimate += eval_images_left / self.eval_images_per_s
        if self.eta_shown is None or estimate == 0.0:
            self.eta_shown = estimate
        else:
            self.eta_shown += ETA_BLEND * (estimate - self.eta_shown)
        return self.eta_shown, complete
