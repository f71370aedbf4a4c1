"""The course's diagnosis, made by the engine so that every reader of a run (app, headless log,
run folder) gets the same words: the generalisation gap read against sampling noise, and a watch
that stops runs whose loss exploded or whose accuracy sits at chance, not only non-finite ones.
"""

from __future__ import annotations

import collections
import math
import statistics

# Train (eval mode, fixed subset) minus validation accuracy, in points, above which it is over-fitting.
OVERFIT_POINTS = 2.0
# A gap within this many standard errors of zero is sampling noise, not a finding.
NOISE_SIGMAS = 2.0

# Collapse: the median loss of the last LOSS_WINDOW batches above LOSS_FACTOR times the early level,
# the early level being the first batch's loss, at least ln(classes) (a uniform guess).
LOSS_WINDOW = 10
LOSS_FACTOR = 5.0
# Or after CHANCE_AFTER batches, the mean accuracy of the last CHANCE_WINDOW batches below
# CHANCE_FACTOR times chance (1 / classes).
CHANCE_AFTER = 300
CHANCE_WINDOW = 100
CHANCE_FACTOR = 1.5

VERDICTS = ("under-trained", "fine", "over-fitting")


def standard_error_points(acc_a: float, n_a: int, acc_b: float, n_b: int) -> float:
    """Standard error of the difference of two accuracies measured on n_a and n_b images, in points."""
    variance = acc_a * (1 - acc_a) / max(n_a, 1) + acc_b * (1 - acc_b) / max(n_b, 1)
    return 100 * math.sqrt(variance)


def l2_flags(weight_decay: float, l2: dict[str, float]) -> str:
    text = f"--weight-decay {weight_decay:g}"
    if l2:
        text += " --l2 " + ",".join(f"{k}={v:g}" for k, v in l2.items())
    return text


def diagnose(train_acc: float, n_train: int, val_acc: float, n_val: int,
             weight_decay: float = 0.0, l2: dict[str, float] | None = None) -> tuple[str, str]:
    """(verdict, one sentence) from accuracies measured the same way: eval mode, no augmentation."""
    gap = 100 * (train_acc - val_acc)
    noise = NOISE_SIGMAS * standard_error_points(train_acc, n_train, val_acc, n_val)
    figures = f"train {100 * train_acc:.2f}% vs validation {100 * val_acc:.2f}%, gap {gap:+.2f} points"
    threshold = max(OVERFIT_POINTS, noise)
    if gap > threshold:
        now = l2_flags(weight_decay, l2 or {})
        return "over-fitting", (f"Over-fitting: {figures} (above {threshold:.2f}); raise L2 with --weight-decay C "
                                f"or --l2 conv1=C,conv2=C,fc=C (now {now}), or add data (--shift).")
    if gap < -noise:
        return "under-trained", (f"Under-trained: {figures} (train below validation by more than the noise, "
                                 f"±{noise:.2f}); keep training: more epochs or a higher --lr.")
    return "fine", f"Fine: {figures} (noise ±{noise:.2f}, over-fitting above {threshold:.2f})."


class CollapseWatch:
    """Fed every batch's loss and accuracy; says what it saw when training has collapsed."""

    def __init__(self, classes: int) -> None:
        self.chance = 1.0 / max(classes, 2)
        self.floor = math.log(max(classes, 2))
        self.early: float | None = None
        self.losses: collections.deque[float] = collections.deque(maxlen=LOSS_WINDOW)
        self.accs: collections.deque[float] = collections.deque(maxlen=CHANCE_WINDOW)
        self.seen = 0

    def observe(self, loss: float, acc: float, last_finite: float | None) -> str | None:
        """None while training looks alive; otherwise what was seen, in words."""
        if not math.isfinite(loss):
            last = "none" if last_finite is None else f"{last_finite:.4f}"
            return f"non-finite loss ({loss}; last finite loss {last})"
        self.seen += 1
        if self.early is None:
            self.early = max(loss, self.floor)
        self.losses.append(loss)
        self.accs.append(acc)
        if len(self.losses) == LOSS_WINDOW:
            median = statistics.median(self.losses)
            if median > LOSS_FACTOR * self.early:
                return (f"loss exploded: median {median:.4g} over the last {LOSS_WINDOW} batches, more than "
                        f"{LOSS_FACTOR:g}x its early level {self.early:.4g}")
        if self.seen >= CHANCE_AFTER and len(self.accs) == CHANCE_WINDOW:
            mean = sum(self.accs) / CHANCE_WINDOW
            if mean < CHANCE_FACTOR * self.chance:
                return (f"accuracy stuck at chance: {100 * mean:.1f}% over the last {CHANCE_WINDOW} batches "
                        f"(chance {100 * self.chance:.0f}%) after {self.seen} batches")
        return None


OK = "ok"
EXPLODE_FACTOR = 100.0  # a layer's largest |activation| growing this much between two refreshes


class LayerFlags:
    """Each layer's health in words at every statistics refresh (dead units, explosive growth
    since the previous refresh, non-finite figures, else "ok"), computed once here so the app,
    the headless log and the exports say the same. Fed the run's layers (their output shapes)
    and then every LayerStats' rows in order: growth is measured between refreshes."""

    def __init__(self) -> None:
        self.shapes: dict[str, list] = {}
        self.now: dict[str, str] = {}  # the newest refresh's flag per layer
        self.appeared: dict[str, str] = {}  # the layers that the newest refresh gave a kind of flag they had not
        self._kinds: dict[str, set[str]] = {}  # per layer, the kinds of flag at the previous refresh
        self._peak: dict[str, float] = {}  # largest |activation| per layer at the previous refresh

    def start(self, layers: list[dict]) -> None:
        """The layers as the run describes them (RunStarted.layers)."""
        self.shapes = {}
        for row in layers:
            self.shapes.setdefault(row["name"], row.get("output_shape"))

    def update(self, rows: list[dict]) -> dict[str, str]:
        """The flags of one refresh. A layer "appears" when it gets a kind of flag it had not at the
        previous refresh (one more dead unit is not news; a layer that starts dying is)."""
        self.now, self.appeared = {}, {}
        for row in rows:
            name, found = row["name"], self._flags(row)
            self.now[name] = ", ".join(words for _kind, words in found) or OK
            kinds = {kind for kind, _words in found}
            if kinds - self._kinds.get(name, set()):
                self.appeared[name] = self.now[name]
            self._kinds[name] = kinds
        return self.now

    def _flags(self, row: dict) -> list[tuple[str, str]]:
        """(kind, words) for each thing wrong with one layer."""
        name, found = row["name"], []
        figures = [row[k] for k in ("mean", "std", "min", "max")] + [row.get("grad_norm") or 0.0]
        if not all(math.isfinite(v) for v in figures):
            found.append(("non-finite", "non-finite values"))
        shape = self.shapes.get(name)
        if row["dead_frac"] > 0:
            channels = shape[1] if shape and len(shape) > 1 else 0
            dead = round(row["dead_frac"] * channels) if channels else None
            unit = "channel" if shape and len(shape) == 4 else "unit"
            found.append(("dead", f"{dead} dead {unit}{'s' if dead != 1 else ''}" if dead is not None else
                                  f"{100 * row['dead_frac']:.0f}% dead {unit}s"))
        finite = math.isfinite(row["min"]) and math.isfinite(row["max"])
        peak = max(abs(row["min"]), abs(row["max"])) if finite else None
        before = self._peak.get(name)
        if peak is not None and before and peak / before >= EXPLODE_FACTOR:
            found.append(("exploding", f"exploding: x{peak / before:.0f} since last refresh"))
        if peak is not None:
            self._peak[name] = peak
        return found
