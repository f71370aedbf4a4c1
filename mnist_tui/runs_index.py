"""Run folders summarised for the runs table, the compare view and the sweep's table.

An event log holds thousands of batch lines and a few very long ones (statistics, mistakes), so
lines are told apart by their first bytes and only the few that matter are parsed as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .engine.control import trainer_alive
from .engine.run_status import RunStatus, status_of
from .engine.rundir import CONFIG, EVENTS

COLUMNS = ("name", "status", "optimizer", "lr", "l2", "epochs", "best val", "test", "wall", "started")
_WANTED = tuple(f'{{"type": "{kind}"'.encode() for kind in ("RunStarted", "StatusChanged", "EvalResult", "Finished"))
_BATCH = b'{"type": "BatchMetrics"'


@dataclass
class RunSummary:
    path: Path
    name: str
    status: RunStatus
    config: dict = field(default_factory=dict)
    epochs_done: float = 0
    epochs_total: int = 0
    batches_per_epoch: int = 0
    best_val_acc: float | None = None
    test_acc: float | None = None
    wall_s: float | None = None
    started: float | None = None

    @property
    def optimizer(self) -> str | None:
        return self.config.get("optimizer")

    @property
    def lr(self) -> float | None:
        return self.config.get("lr")

    @property
    def schedule(self) -> str | None:
        return self.config.get("schedule")

    @property
    def l2(self) -> str:
        """Global decay and per-layer L2 in one short text ("0" when there is none)."""
        parts = [f"wd {self.config['weight_decay']:g}"] if self.config.get("weight_decay") else []
        parts += [f"{name}={coeff:g}" for name, coeff in (self.config.get("l2") or {}).items()]
        return ",".join(parts) or "0"

    def sort_key(self, column: str):
        return {"name": self.name, "status": self.status.value, "optimizer": self.optimizer, "lr": self.lr,
                "l2": self.l2, "epochs": self.epochs_done, "best val": self.best_val_acc, "test": self.test_acc,
                "wall": self.wall_s, "started": self.started}[column]


def _is_run(path: Path) -> bool:
    return (path / CONFIG).is_file() or (path / EVENTS).is_file()


def _scan(path: Path) -> tuple[list[dict], bytes | None, bytes | None]:
    """The events that matter, parsed, plus the first and last batch lines (raw)."""
    wanted, first, last = [], None, None
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(_BATCH):
                    first = first or line
                    last = line
                elif line.startswith(_WANTED):
                    try:
                        wanted.append(json.loads(line))
                    except ValueError:
                        pass  # a line torn by a crash
    except FileNotFoundError:
        pass
    return wanted, first, last


def _loads(line: bytes | None) -> dict | None:
    try:
        return json.loads(line) if line else None
    except ValueError:
        return None


def summarise(run_path: str | Path, name: str | None = None) -> RunSummary | None:
    """A run folder's summary, or None when the folder is not a run."""
    path = Path(run_path)
    if not _is_run(path):
        return None
    try:
        config = json.loads((path / CONFIG).read_text()).get("config", {})
    except (OSError, ValueError):
        config = {}
    events, first, last = _scan(path / EVENTS)
    alive = trainer_alive(path)
    engine_status = finished = None
    summary = RunSummary(path, name or path.name, RunStatus.STARTING, config, epochs_total=config.get("epochs", 0))
    vals = []
    for e in events:
        kind = e.get("type")
        if kind == "RunStarted":
            summary.epochs_total = e.get("epochs", summary.epochs_total)
            summary.batches_per_epoch = e.get("batches_per_epoch", 0)
        elif kind == "StatusChanged":
            engine_status = e.get("status")
        elif kind == "Finished":
            finished = e.get("status")
        elif kind == "EvalResult" and e.get("split") == "val":
            vals.append(e)
        elif kind == "EvalResult" and e.get("split") == "test":
            summary.test_acc = e.get("acc")
    summary.status = status_of(engine_status, finished, alive)
    accs = [v["acc"] for v in vals if isinstance(v.get("acc"), (int, float))]
    summary.best_val_acc = max(accs) if accs else None
    first_batch, last_batch = _loads(first), _loads(last)
    if last_batch is not None:
        bpe = summary.batches_per_epoch or 1
        summary.epochs_done = round((last_batch["step"] + 1) / bpe, 1)
        summary.wall_s = last_batch.get("elapsed_s")
    times = [e["time"] for e in events[:1] if "time" in e] or ([first_batch["time"]] if first_batch else [])
    summary.started = times[0] if times else _mtime(path / CONFIG)
    return summary


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """The runs under `runs_dir`, and those one level down in sweep folders ("sweep/run"); newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = []
    for sub in root.iterdir():
        if not sub.is_dir():
            continue
        if _is_run(sub):
            runs.append(summarise(sub))
        else:
            runs += [summarise(run, f"{sub.name}/{run.name}") for run in sub.iterdir() if run.is_dir() and _is_run(run)]
    return sort_runs([r for r in runs if r is not None], "started", reverse=True)


def sort_runs(runs: list[RunSummary], column: str, reverse: bool = False) -> list[RunSummary]:
    """Sorted by a table column; runs with no value in it come last either way."""
    known = [r for r in runs if r.sort_key(column) is not None]
    unknown = [r for r in runs if r.sort_key(column) is None]
    return sorted(known, key=lambda r: r.sort_key(column), reverse=reverse) + unknown


def validation_curve(run_path: str | Path) -> list[tuple[int, float, float]]:
    """(step, accuracy, loss) at each validation, for the compare view."""
    events, _, _ = _scan(Path(run_path) / EVENTS)
    return [(e["step"], e["acc"], e["loss"]) for e in events
            if e.get("type") == "EvalResult" and e.get("split") == "val"]


def differing_settings(runs: list[RunSummary]) -> list[str]:
    """Settings whose values are not the same in every run, in the settings' own order."""
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    return [k for k in keys if len({json.dumps(r.config.get(k), sort_keys=True) for r in runs}) > 1]
