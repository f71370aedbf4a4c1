"""The runs index: run folders written by hand (no training, no Paddle) read back as summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnist_tui.run import events as ev
from mnist_tui.run.control import hold_trainer_lock
from mnist_tui.run.index import COLUMNS, differing_settings, list_runs, sort_runs, summarise, validation_curve
from mnist_tui.run.status import RunStatus

T0 = 1_700_000_000.0
CONFIG = {"optimizer": "adam", "lr": 0.003, "schedule": "cosine", "weight_decay": 0.0, "l2": {}, "epochs": 2,
          "batch_size": 64, "seed": 0, "shift": 2, "device": "auto", "train_limit": None}


def line(event: ev.Event, t: float) -> str:
    """An event as the trainer's EventLog writes it, at a chosen time."""
    return json.dumps({**event.to_json(), "time": t}, default=float) + "\n"


def batches(first: int, last: int, bpe: int, t: float, elapsed0: float = 0.0) -> list[str]:
    return [line(ev.BatchMetrics(s // bpe, s % bpe, s, 1.0 / (s + 1), 0.5, 1000.0, elapsed0 + 0.1 * (s - first)),
                 t + 0.1 * (s - first)) for s in range(first, last)]


def write_run(folder: Path, lines: list[str], config: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(json.dumps({"config": config, "data_dir": None}, indent=2))
    (folder / "events.jsonl").write_text("".join(lines))
    return folder


def training(epochs: int, bpe: int, done_batches: int, t: float = T0, config: dict | None = None,
             end: str | None = "done") -> list[str]:
    """A run's log up to `done_batches` batches, a validation at each epoch's end; `end`: its Finished status."""
    config = config or CONFIG
    out = [line(ev.RunStarted("x", "CPU", config, epochs, bpe, 640, 100, []), t),
           line(ev.StatusChanged("running"), t)]
    for epoch in range(epochs):
        lo, hi = epoch * bpe, min((epoch + 1) * bpe, done_batches)
        if lo >= hi:
            break
        out += batches(lo, hi, bpe, t + 0.1 * lo, 0.1 * lo)
        if hi == (epoch + 1) * bpe:
            out.append(line(ev.EvalResult("val", epoch, bpe, hi - 1, 0.5 - 0.1 * epoch, 0.90 + 0.02 * epoch,
                                          train_acc=0.91), t + 0.1 * hi))
    if end == "done":
        out += [line(ev.EvalResult("test", epochs - 1, bpe, done_batches - 1, 0.3, 0.925), t + 100),
                line(ev.StatusChanged("done"), t + 100), line(ev.Finished("done", 0.925, 0.3), t + 100)]
    elif end is not None:
        out += [line(ev.StatusChanged(end), t + 100), line(ev.Finished(end), t + 100)]
    return out


@pytest.fixture
def lock_holder():
    """Takes a run's trainer lock in this process, as a live trainer would; released afterwards."""
    held = []
    yield lambda path: held.append(hold_trainer_lock(path))
    for f in held:
        f.close()


def test_finished_run(tmp_path):
    config = {**CONFIG, "optimizer": "sgd", "lr": 0.01, "weight_decay": 0.001, "l2": {"conv1": 1e-4, "fc": 0.0}}
    path = write_run(tmp_path / "a", training(2, 10, 20, config=config), config)
    run = summarise(path)
    assert (run.name, run.status, run.optimizer, run.lr, run.schedule) == ("a", RunStatus.FINISHED, "sgd", 0.01, "cosine")
    assert run.l2 == "wd 0.001,conv1=0.0001"
    assert (run.epochs_done, run.epochs_total, run.batches_per_epoch) == (2, 2, 10)
    assert run.best_val_acc == pytest.approx(0.92) and run.test_acc == pytest.approx(0.925)
    assert run.wall_s == pytest.approx(100) and run.started == T0  # to its Finished, evaluations included
    assert run.config == config
    assert validation_curve(path) == [(9, pytest.approx(0.90), pytest.approx(0.5)),
                                      (19, pytest.approx(0.92), pytest.approx(0.4))]
    log = path / "events.jsonl"
    log.write_text(log.read_text().rstrip("\n"))  # written by other tools: the last line is whole, unended
    assert summarise(path).status is RunStatus.FINISHED


def test_crashed_run_has_no_finished_and_no_lock_holder(tmp_path):
    path = write_run(tmp_path / "c", training(2, 10, 15, end=None), CONFIG)
    (path / "trainer.lock").write_text("12345\n")  # left by the dead trainer, held by nobody
    run = summarise(path)
    assert run.status is RunStatus.CRASHED
    assert (run.epochs_done, run.best_val_acc, run.test_acc) == (1.5, pytest.approx(0.90), None)
    assert run.wall_s == pytest.approx(1.4)


@pytest.mark.parametrize(("status", "expected"), [("paused", RunStatus.PAUSED), ("running", RunStatus.TRAINING),
                                                  ("validating", RunStatus.TRAINING), (None, RunStatus.STARTING)])
def test_live_run_status_comes_from_the_newest_status_change(tmp_path, lock_holder, status, expected):
    lines = training(2, 10, 5, end=None)
    lines = lines[:1] + lines[2:] if status is None else [*lines, line(ev.StatusChanged(status), T0 + 1)]
    path = write_run(tmp_path / "live", lines, CONFIG)
    lock_holder(path)
    assert summarise(path).status is expected


def test_a_run_that_has_not_logged_yet_is_starting(tmp_path, lock_holder):
    path = write_run(tmp_path / "new", [], CONFIG)
    lock_holder(path)
    run = summarise(path)
    assert (run.status, run.epochs_done, run.epochs_total, run.wall_s, run.best_val_acc) == (
        RunStatus.STARTING, 0, 2, None, None)
    assert run.started == pytest.approx((path / "config.json").stat().st_mtime)


def test_torn_lines_are_skipped(tmp_path):
    lines = training(2, 10, 12, end=None)
    torn_batch = lines[-1][: len(lines[-1]) // 2]
    path = write_run(tmp_path / "torn", [*lines, torn_batch])
    (path / "config.json").write_text('{"config": {"optimizer": "ad')  # killed while writing it
    run = summarise(path)
    assert run.status is RunStatus.CRASHED
    assert run.epochs_done == 1.2 and run.wall_s == pytest.approx(1.1)
    assert run.optimizer == "adam" and run.epochs_total == 2  # from RunStarted
    path.joinpath("events.jsonl").write_text("".join(lines) + lines[-3][:40])  # a torn validation line
    assert len(validation_curve(path)) == 1


def test_a_resumed_run_adds_up_each_trainer_s_time_and_forgets_the_earlier_ending(tmp_path):
    first = training(2, 10, 12, end="stopped")
    second = [line(ev.StatusChanged("resumed"), T0 + 200),
              line(ev.RunStarted("x", "CPU", CONFIG, 2, 10, 640, 100, [], 1, 12), T0 + 200),
              *batches(12, 16, 10, T0 + 200)]
    path = write_run(tmp_path / "resumed", first + second, CONFIG)
    run = summarise(path)
    assert run.status is RunStatus.CRASHED  # not "stopped": the second trainer died without a Finished
    # Each trainer's life, first event to last (the first ended at 100 s), not the time between them.
    assert run.epochs_done == 1.6 and run.wall_s == pytest.approx(100 + 0.3)


def test_a_monitored_loop_without_batches_per_epoch_counts_whole_epochs(tmp_path):
    lines = [line(ev.RunStarted("x", "CPU", {"epochs": 3}, 3, 0, 0, 0, []), T0),
             *batches(0, 25, 10, T0), line(ev.Finished("done"), T0 + 3)]
    run = summarise(write_run(tmp_path / "monitored", lines, {"epochs": 3}))
    assert (run.epochs_done, run.epochs_total, run.status) == (3, 3, RunStatus.FINISHED)


def test_sweep_folders_are_one_level_deep_and_newest_comes_first(tmp_path):
    runs_dir = tmp_path / "runs"
    write_run(runs_dir / "solo", training(2, 10, 20, t=T0 + 10), CONFIG)
    write_run(runs_dir / "sweep-1" / "lr=0.01", training(2, 10, 20, t=T0 + 30), CONFIG)
    write_run(runs_dir / "sweep-1" / "lr=0.1", training(2, 10, 20, t=T0 + 20), CONFIG)
    (runs_dir / "sweep-1" / "sweep.json").write_text("{}")
    (runs_dir / "sweep-1" / "notes").mkdir()
    (runs_dir / "empty").mkdir()
    (runs_dir / "a-file.txt").write_text("not a run")
    runs = list_runs(runs_dir)
    assert [r.name for r in runs] == ["sweep-1/lr=0.01", "sweep-1/lr=0.1", "solo"]
    assert runs[0].path == runs_dir / "sweep-1" / "lr=0.01"
    assert summarise(runs_dir / "sweep-1") is None and summarise(runs_dir / "empty") is None
    assert list_runs(tmp_path / "missing") == []


def test_differing_settings(tmp_path):
    def run(name, **changes):
        config = {**CONFIG, **changes}
        return summarise(write_run(tmp_path / name, training(2, 10, 20, config=config), config))

    a, b, c = run("a"), run("b", optimizer="sgd", l2={"fc": 1e-3}), run("c", l2={"fc": 1e-3})
    assert differing_settings([a, b, c]) == ["optimizer", "l2"]
    assert differing_settings([b, c]) == ["optimizer"]
    assert differing_settings([a, a]) == [] and differing_settings([]) == []


def test_sorting_puts_runs_without_a_value_last_either_way(tmp_path):
    finished = summarise(write_run(tmp_path / "b-finished", training(2, 10, 20), CONFIG))
    better = summarise(write_run(tmp_path / "a-better", training(2, 10, 20), {**CONFIG, "lr": 0.1}))
    better.best_val_acc = 0.99
    crashed = summarise(write_run(tmp_path / "c-crashed", training(2, 10, 5, end=None), {**CONFIG, "lr": None}))
    runs = [finished, crashed, better]
    assert crashed.best_val_acc is None and crashed.lr is None
    assert [r.name for r in sort_runs(runs, "best val")] == ["b-finished", "a-better", "c-crashed"]
    assert [r.name for r in sort_runs(runs, "best val", reverse=True)] == ["a-better", "b-finished", "c-crashed"]
    assert [r.name for r in sort_runs(runs, "lr", reverse=True)] == ["a-better", "b-finished", "c-crashed"]
    assert [r.name for r in sort_runs(runs, "test")] == ["b-finished", "a-better", "c-crashed"]
    assert [r.name for r in sort_runs(runs, "name")] == ["a-better", "b-finished", "c-crashed"]
    for column in COLUMNS:
        assert len(sort_runs(runs, column)) == 3 and len(sort_runs(runs, column, reverse=True)) == 3


def big_run_log(bpe: int = 800, epochs: int = 5) -> str:
    """A 5-epoch run's log at full size: a batch line per batch, and a few ~50 KB statistics lines."""
    layers = [{"name": f"layer{i}", "histogram": [0.123456789 * k for k in range(430)]} for i in range(8)]
    stats = line(ev.LayerStats(0, 0, 0, layers), T0)
    out = training(epochs, bpe, epochs * bpe)
    return "".join(out[:2] + [stats] + out[2:-3] + [stats] * 3 + out[-3:])


def write_big_runs(runs_dir: Path, count: int = 50) -> None:
    text = big_run_log()
    for i in range(count):
        folder = runs_dir / f"run{i:02d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"config": {**CONFIG, "epochs": 5}}))
        (folder / "events.jsonl").write_text(text)


def test_fifty_full_size_runs_are_listed(tmp_path):
    log = big_run_log()
    assert log.count('"type": "BatchMetrics"') == 4000 and 40_000 < len(log.splitlines()[2]) < 60_000
    write_big_runs(tmp_path)
    runs = list_runs(tmp_path)
    assert len(runs) == 50
    assert {(r.status, r.epochs_done, round(r.best_val_acc, 6)) for r in runs} == {(RunStatus.FINISHED, 5, 0.98)}


def test_a_log_is_read_again_only_when_it_changed(tmp_path, monkeypatch):
    """The table refreshes every few seconds: an unchanged log (same size and time) is not read again."""
    from mnist_tui.run import index as runs_index

    run = write_run(tmp_path / "run", training(2, 5, 7, end=None))
    reads = []
    real_scan = runs_index._scan
    monkeypatch.setattr(runs_index, "_scan", lambda path: reads.append(path) or real_scan(path))
    assert summarise(run).status is RunStatus.CRASHED
    assert summarise(run).status is RunStatus.CRASHED
    assert len(reads) == 1
    with open(run / "events.jsonl", "a") as log:
        log.writelines(batches(7, 10, 5, T0 + 1) + [line(ev.Finished("stopped"), T0 + 2)])
    summary = summarise(run)
    assert len(reads) == 2
    assert summary.status is RunStatus.STOPPED and summary.epochs_done == 2
