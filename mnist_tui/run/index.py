"""Run folders summarised for the runs table, the compare view and the sweep's table.

The runs table reads every event log in its folder every few seconds, and a log holds thousands
of batch lines and a few very long ones (statistics, mistakes). So lines are told apart by their
first bytes (the writer's `{"type": "X"` prefix) and only the few that matter are parsed: the
run's milestones, and of the batch lines the first and each trainer's last.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from mnist_tui.run import strict_json
from mnist_tui.run.control import trainer_alive
from mnist_tui.run.events import newer_schema
from mnist_tui.run.folder import CONFIG, EVENTS, NewerSchema, RunDirError, no_event_in, read_regular
from mnist_tui.run.status import RunStatus, status_of

# The figures people compare come right after the name: at 80 columns long (sweep) names push the rest off.
COLUMNS = ("name", "status", "best val", "test", "optimizer", "lr", "l2", "epochs", "wall", "started")
_WANTED = tuple(f'{{"type": "{kind}"'.encode() for kind in ("RunStarted", "StatusChanged", "EvalResult", "Finished"))
_BATCH = b'{"type": "BatchMetrics"'
SWEEP = "sweep.json"  # a sweep folder's plan: its runs' names and settings, in the order they train
_STATUS_ORDER = {status: i for i, status in enumerate(RunStatus)}  # live runs first, then ended ones


@dataclass
class RunSummary:
    path: Path
    name: str  # "sweep/run" for a run inside a sweep folder
    status: RunStatus
    config: dict = field(default_factory=dict)
    epochs_done: float = 0
    epochs_total: int = 0
    batches_per_epoch: int = 0
    best_val_acc: float | None = None
    best_val_loss: float | None = None  # the lowest validation loss: the table shows it for runs with no accuracy
    test_acc: float | None = None
    wall_s: float | None = None
    started: float | None = None
    damaged: str | None = None  # why the folder cannot be read as a run (the table says "damaged")
    newer: bool = False  # `damaged` because a newer mnist-tui wrote its log (the table says "newer")

    @property
    def status_word(self) -> str:
        """The table's status column: "newer" or "damaged" for a log it cannot read, else the status."""
        return ("newer" if self.newer else "damaged") if self.damaged else self.status.value

    @property
    def optimizer(self) -> str | None:
        return self.config.get("optimizer")

    @property
    def lr(self) -> float | None:
        return _number(self.config.get("lr"))

    @property
    def schedule(self) -> str | None:
        return self.config.get("schedule")

    @property
    def l2(self) -> str:
        """Global decay and per-layer L2 in one short text ("0" when there is none)."""
        decay = _number(self.config.get("weight_decay"))
        parts = [f"wd {decay:g}"] if decay else []
        layers = self.config.get("l2")
        if isinstance(layers, dict):
            parts += [f"{name}={coeff:g}" for name, coeff in layers.items() if _number(coeff)]
        return ",".join(parts) or "0"

    def sort_key(self, column: str):
        """The value a table column sorts by; None when the run has none."""
        return {"name": self.name, "status": _STATUS_ORDER[self.status], "optimizer": self.optimizer, "lr": self.lr,
                "l2": self.l2, "epochs": self.epochs_done, "best val": self.best_val_acc, "test": self.test_acc,
                "wall": self.wall_s, "started": self.started}[column]


def summarise(run_path: str | Path, name: str | None = None) -> RunSummary | None:
    """A run folder's summary, or None when the folder is not a run."""
    path = Path(run_path)
    if not is_run(path):
        return None
    # The lock before the log, as RunController.poll does: a trainer found gone has written all it
    # ever will, so a run that ends between the two reads is not listed as crashed.
    alive = trainer_alive(path)
    config, created, events, first_batch, last_batches, damaged, newer = _read_run(path)
    summary = RunSummary(path, name or path.name, RunStatus.STARTING, config,
                         epochs_total=_number(config.get("epochs")) or 0, damaged=damaged, newer=newer)
    engine_status = finished = finished_test = eval_test = None
    val_accs, val_losses = [], []
    for e in events:
        kind = e.get("type")
        if kind == "RunStarted" or (kind == "StatusChanged" and e.get("status") == "resumed"):
            finished = finished_test = eval_test = None  # resumed: the earlier trainer's ending no longer holds
        if kind == "RunStarted":
            summary.epochs_total = _number(e.get("epochs")) or summary.epochs_total
            summary.batches_per_epoch = _number(e.get("batches_per_epoch")) or 0
            if not config and isinstance(e.get("config"), dict):
                summary.config = e["config"]  # config.json missing or torn
        elif kind == "StatusChanged":
            engine_status = e.get("status")
        elif kind == "Finished":
            finished, finished_test = e.get("status"), _number(e.get("test_acc"))
        elif kind == "EvalResult" and e.get("split") == "val":
            val_accs += [e["acc"]] if _number(e.get("acc")) is not None else []
            val_losses += [e["loss"]] if _number(e.get("loss")) is not None else []
        elif kind == "EvalResult" and e.get("split") == "test":
            eval_test = _number(e.get("acc"))
    summary.status = status_of(engine_status, finished, alive)
    summary.test_acc = finished_test if finished_test is not None else eval_test
    summary.best_val_acc = max(val_accs) if val_accs else None
    summary.best_val_loss = min(val_losses) if val_losses else None
    _add_progress(summary, events, first_batch, last_batches)
    summary.wall_s = _wall_s(created, events, last_batches)
    if created is not None:
        summary.started = min(created, summary.started or created)
    return summary


def _add_progress(summary: RunSummary, events: list[dict], first_batch: dict | None,
                  last_batches: list[dict]) -> None:
    """Epochs done and start time."""
    times = [t for t in (_number(e.get("time")) for e in events) if t is not None]
    if last_batches:
        last = last_batches[-1]
        step, epoch = _number(last.get("step")), _number(last.get("epoch")) or 0
        if summary.batches_per_epoch and step is not None:
            done = round((step + 1) / summary.batches_per_epoch, 1)
        else:  # a hand-written loop (Monitor) may not say how many batches an epoch has
            done = epoch + (summary.status is RunStatus.FINISHED)
        summary.epochs_done = int(done) if done == int(done) else done
    firsts = [t for t in (times[0] if times else None, first_batch and _number(first_batch.get("time")))
              if t is not None]
    summary.started = min(firsts) if firsts else _mtime(summary.path / CONFIG) or _mtime(summary.path / EVENTS)


class WallTime:
    """A run's wall time from its events as they come: from its first event to its last, start-up
    included (config.json's `created` is written before Paddle loads). A resumed run adds up each
    trainer's life, not the time between them; inspections of the final model after `Finished` are
    not counted. The runs table and the run view's header both use it, so they agree."""

    def __init__(self) -> None:
        self.lives: list[list] = []  # [start, end, has its RunStarted, has its Finished]

    def clear(self) -> None:
        self.lives = []

    def add(self, record: dict) -> None:
        t, kind = _number(record.get("time")), record.get("type")
        if t is None:
            return
        resumed = kind == "StatusChanged" and record.get("status") == "resumed"  # written before the new RunStarted
        if not self.lives or resumed or (kind == "RunStarted" and self.lives[-1][2]):
            self.lives.append([t, t, False, False])
        life = self.lives[-1]
        if not life[3]:
            life[1] = max(life[1], t)
        life[2] |= kind == "RunStarted"
        life[3] |= kind == "Finished"

    def add_batch(self, batch: dict) -> None:
        """A batch read apart from the other events (a run that is still training: its newest)."""
        t = _number(batch.get("time"))
        life = next((life for life in reversed(self.lives) if t is not None and life[0] <= t), None)
        if life is not None and not life[3]:
            life[1] = max(life[1], t)

    def seconds(self, created: float | None = None) -> float | None:
        if not self.lives:
            return None
        first = min(self.lives[0][0], created) if created is not None else self.lives[0][0]
        return sum(end - start for start, end, *_ in self.lives) + (self.lives[0][0] - first)


def _wall_s(created: float | None, events: list[dict], last_batches: list[dict]) -> float | None:
    wall = WallTime()
    for e in events:
        wall.add(e)
    for batch in last_batches:
        wall.add_batch(batch)
    return wall.seconds(created)


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """The runs under `runs_dir`, and those one level down in sweep folders ("sweep/run"); newest first."""
    root = Path(runs_dir)
    runs = []
    for sub in _subfolders(root):
        if is_run(sub):
            runs.append(summarise(sub))
        else:  # a sweep folder (or an unrelated one, whose subfolders are not runs)
            runs += [summarise(run, f"{sub.name}/{run.name}") for run in _subfolders(sub) if is_run(run)]
    runs = sorted((r for r in runs if r is not None), key=lambda r: r.name)  # a fixed order for equal times
    return sort_runs(runs, "started", reverse=True)


def sort_runs(runs: list[RunSummary], column: str, reverse: bool = False) -> list[RunSummary]:
    """Sorted by a table column (one of COLUMNS); runs with no value in it come last either way."""
    known = [r for r in runs if r.sort_key(column) is not None]
    unknown = [r for r in runs if r.sort_key(column) is None]
    return sorted(known, key=lambda r: r.sort_key(column), reverse=reverse) + unknown


def validation_curve(run_path: str | Path) -> list[tuple[int, float | None, float]]:
    """(step, accuracy or None for a run without one, loss) at each validation, for the compare view."""
    curve = []
    for e in _read_run(Path(run_path))[2]:
        if e.get("type") == "EvalResult" and e.get("split") == "val" and isinstance(e.get("step"), int):
            acc, loss = _number(e.get("acc")), e.get("loss")
            if isinstance(loss, (int, float)):
                curve.append((e["step"], acc, loss))  # a non-finite loss stays: the curve shows the divergence
    return curve


def planned_runs(folder: Path) -> list[str]:
    """A sweep's runs by name, in the order it trains them; [] for a folder that is no sweep."""
    try:
        plan = json.loads((folder / SWEEP).read_text(encoding="utf-8"))
        return [r["name"] for r in plan["runs"] if isinstance(r.get("name"), str)]
    except (OSError, ValueError, TypeError, LookupError, AttributeError):
        return []


def differing_settings(runs: list[RunSummary]) -> list[str]:
    """Settings whose values are not the same in every run, in the settings' own order."""
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    return [k for k in keys if len({json.dumps(r.config.get(k), sort_keys=True, default=str) for r in runs}) > 1]


def _number(value) -> float | None:
    """A finite number, or None: a config written by hand or by an older version may hold anything."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def is_run(path: Path) -> bool:
    return (path / CONFIG).is_file() or (path / EVENTS).is_file()


def _subfolders(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:  # missing, unreadable, or deleted while we looked
        return []


_cache: dict[Path, tuple[tuple, tuple]] = {}  # run folder -> (its files' sizes and times, what _read_run found)


def _read_run(path: Path) -> tuple[dict, float | None, list[dict], dict | None, list[dict], str | None, bool]:
    """(settings, when the folder was made, milestone events, first batch, each life's last batch,
    why it is damaged or None, whether that is a log in a newer event schema).
    Read again only when config.json or events.jsonl changed size or time: the table refreshes
    every few seconds and a long run's log is tens of megabytes."""
    key = tuple(_identity(path / name) for name in (CONFIG, EVENTS))
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    config: tuple = ({}, None)
    try:
        config = _read_config(path)
        found = (*config, *_scan(path / EVENTS), None, False)
    except RunDirError as exc:  # its settings still show when only the log is damaged
        found = (*config, [], None, [], str(exc), isinstance(exc, NewerSchema))
    _cache[path] = (key, found)
    return found


def _identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode


def _read_config(path: Path) -> tuple[dict, float | None]:
    """The run's settings and when its folder was made; ({}, None) when config.json is missing or
    torn (RunDirError when it is no file)."""
    try:
        saved = strict_json.loads(read_regular(path / CONFIG))
        config, created = saved.get("config"), _number(saved.get("created"))
    except (ValueError, TypeError, LookupError, AttributeError):
        return {}, None
    return config if isinstance(config, dict) else {}, created


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _scan(path: Path) -> tuple[list[dict], dict | None, list[dict]]:
    """An event log read in one go: the events that matter, parsed; the first batch; and the last
    batch of each trainer's life (a resumed run's next life begins at its next RunStarted)."""
    data = read_regular(path)
    if (why := no_event_in(data)) is not None:
        raise RunDirError(f"{path}: {why}")
    lines = data.split(b"\n")
    events, first, lives = [], None, [[0, None]]  # a life: [its first line, its newest batch line]
    for i, line in enumerate(lines):
        if line.startswith(_BATCH):
            first = i if first is None else first
            lives[-1][1] = i
        elif line.startswith(_WANTED) and (record := _loads(line)) is not None:  # a torn line does not parse
            if (why := newer_schema(record)) is not None:
                raise NewerSchema(f"{path}: {why}")
            if record.get("type") == "RunStarted" and any(e.get("type") == "RunStarted" for e in events):
                lives.append([i, None])
            events.append(record)
    last_batches = [_batch_before(lines, start, newest) for start, newest in lives if newest is not None]
    return events, None if first is None else _loads(lines[first]), [b for b in last_batches if b is not None]


def _batch_before(lines: list[bytes], start: int, newest: int) -> dict | None:
    """The newest readable batch in lines[start:newest + 1]."""
    for i in range(newest, start - 1, -1):
        if lines[i].startswith(_BATCH) and (record := _loads(lines[i])) is not None:
            return record
    return None


def _loads(line: bytes) -> dict | None:
    try:
        record = strict_json.loads(line)
    except ValueError:
        return None  # torn by a crash (and perhaps followed on the same line by a restarted trainer's)
    return record if isinstance(record, dict) else None
