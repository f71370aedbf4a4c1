"""Faults: a run killed at any moment keeps a readable log and a loadable checkpoint, and a
resumed run continues the same history to the same result."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings

import paddle
import pytest
from helpers import wait_until

from mnist_tui.engine import checkpoint
from mnist_tui.engine.model import MnistCNN
from mnist_tui.engine.session import Session
from mnist_tui.run import checkpoints
from mnist_tui.run import events as ev
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.folder import RunDir, read_events
from mnist_tui.run.status import RunStatus

TINY_EPOCHS = ["--train-limit", "320", "--val-limit", "64", "--test-limit", "64", "--epochs", "200"]


def spawn(tmp_path, *args):
    """A headless run on one rank: ranks have faults of their own (tests/test_ranks.py, rank0_kills.py)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    tmp_path.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "mnist_tui", "--headless", "--nproc", "1", *args,
                             "--runs-dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)


def wait_for_checkpoint(run_root, proc):
    """The run folder once its first checkpoint is saved; fails at once, with the trainer's stderr,
    if the trainer ends first."""
    def saved():
        run = next((run for run in (run_root.iterdir() if run_root.exists() else [])
                    if list((run / "checkpoints").glob("*.json"))), None)
        assert run is not None or proc.poll() is None, proc.stderr.read().decode()
        return run

    wait_until(saved, "a first checkpoint", timeout=120)
    return saved()


def check_survivor(run):
    lines = (run / "events.jsonl").read_text().splitlines()
    for line in lines[:-1]:
        json.loads(line)  # every line but possibly the last parses
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = read_events(run / "events.jsonl")
    assert events[0]["type"] == "StatusChanged" or events[0]["type"] == "RunStarted"
    meta = checkpoints.newest(RunDir(run))
    assert meta is not None
    model = MnistCNN()
    state = paddle.load(meta["stem"] + ".pdparams")
    model.set_state_dict(state)
    assert paddle.equal_all(model.fc.weight, state["fc.weight"])
    state = paddle.load(meta["stem"] + ".pdopt")
    assert any("moment1" in key for key in state), "Adam's state is in the optimizer checkpoint"
    return meta


def test_sigkill_at_random_moments_leaves_a_readable_run(tmp_path):
    rng = random.Random(1234)
    trials, survivors = 6, []  # six fixed moments (the seed) over the 2.5 s after the first checkpoint
    for pair in range(trials // 2):  # two at a time: each waits mostly on Paddle's import
        procs = []
        for i in range(2):
            root = tmp_path / f"trial{pair}-{i}"
            procs.append((root, spawn(root, *TINY_EPOCHS, "--seed", str(pair))))
        for root, proc in procs:
            run = wait_for_checkpoint(root, proc)
            time.sleep(rng.uniform(0, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            check_survivor(run)
            survivors.append(len((run / "events.jsonl").read_bytes()))
    assert len(survivors) == trials
    assert len(set(survivors)) > trials // 2, "kills landed at many different moments"


def test_resume_after_sigkill_continues_without_duplicates_or_gaps(tmp_path):
    root = tmp_path / "runs"
    args = ["--train-limit", "640", "--val-limit", "128", "--test-limit", "128", "--epochs", "4"]
    proc = spawn(root, *args)
    run = wait_for_checkpoint(root, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    meta = checkpoints.newest(RunDir(run))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "mnist_tui", "--headless", "--resume", str(run)], check=False,
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    events = read_events(run / "events.jsonl")
    steps = [e["step"] for e in events if e["type"] == "BatchMetrics"]
    assert steps == list(range(4 * 10)), "every batch once, in order"
    vals = [e for e in events if e["type"] == "EvalResult" and e["split"] == "val"]
    assert [v["epoch"] for v in vals] == [0, 1, 2, 3]
    assert events[-1]["type"] == "Finished" and events[-1]["status"] == "done"
    assert any(e["type"] == "StatusChanged" and e["status"] == "resumed" for e in events)
    assert meta["step"] > 0


def run_to_end(session, stop_at_step=None):
    rec = []
    session.bus.subscribe(rec.append)
    trainer = session.make_trainer()
    if stop_at_step is not None:
        def stopper(event):
            if isinstance(event, ev.BatchMetrics) and event.step >= stop_at_step:
                trainer.stop()
        session.bus.subscribe(stopper)
    session.run_trainer()
    session.close()
    return trainer, rec


def test_resumed_run_ends_like_an_uninterrupted_one(mnist, tmp_path):
    cfg = TrainConfig(epochs=2, train_limit=1280, val_limit=500, test_limit=100, seed=3, metrics_interval_s=0.0)
    _, whole = run_to_end(Session.new(cfg, tmp_path / "a", data=mnist))
    first, _ = run_to_end(Session.new(cfg, tmp_path / "b", data=mnist), stop_at_step=13)
    assert first.status == "stopped" and first.step < 20
    resumed, rest = run_to_end(Session.resume(first.run_dir.path, data=mnist))
    assert resumed.status is RunStatus.FINISHED
    final = {name: [e for e in events if isinstance(e, ev.EvalResult) and e.split == "val"][-1]
             for name, events in (("whole", whole), ("resumed", rest))}
    assert abs(final["whole"].acc - final["resumed"].acc) <= 0.003
    logged = read_events(first.run_dir.events_path)
    assert [e["step"] for e in logged if e["type"] == "BatchMetrics"] == list(range(40))


def test_stop_from_sigterm_at_the_next_batches(tmp_path):
    root = tmp_path / "runs"
    proc = spawn(root, *TINY_EPOCHS)
    run = wait_for_checkpoint(root, proc)
    before = len(list((run / "checkpoints").glob("*.json")))
    shown = max((e["step"] for e in read_events(run / "events.jsonl") if e["type"] == "BatchMetrics"), default=0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 130
    events = read_events(run / "events.jsonl")
    assert events[-1]["type"] == "Finished" and events[-1]["status"] == "stopped"
    assert len(list((run / "checkpoints").glob("*.json"))) >= before
    last_step = max(e["step"] for e in events if e["type"] == "BatchMetrics")
    assert checkpoints.newest(RunDir(run))["step"] == last_step + 1
    # Taken between two batches: past what the log showed at the signal by at most the batches of a
    # metrics fetch or two (4 epochs here), not at an epoch's end or the run's 1,000th batch.
    assert last_step - shown <= 20, (shown, last_step)


def test_corrupt_checkpoint_on_resume_is_a_usage_error(mnist, tmp_path):
    cfg = TrainConfig(epochs=1, train_limit=128, val_limit=64, test_limit=64)
    trainer, _ = run_to_end(Session.new(cfg, tmp_path, data=mnist))
    meta = checkpoints.newest(trainer.run_dir)
    with open(meta["stem"] + ".pdparams", "r+b") as f:
        f.truncate(100)
    from mnist_tui.cli.main import main

    assert main(["--headless", "--resume", str(trainer.run_dir.path)]) == 2


@pytest.mark.parametrize("kind", ["snapshot", "checkpoint"])
def test_no_half_written_files_under_real_names(mnist, tmp_path, kind, monkeypatch):
    """A crash mid-write (simulated: the write raises) leaves no file under the real name."""
    import numpy as np

    cfg = TrainConfig(epochs=1, train_limit=128, val_limit=64, test_limit=64)
    session = Session.new(cfg, tmp_path, data=mnist)
    trainer = session.make_trainer()
    trainer._setup(None)
    x, y = trainer.train_x[:64], trainer.train_y[:64]

    def crash(*args, **kwargs):
        raise OSError("disk full")

    if kind == "snapshot":
        monkeypatch.setattr(np, "savez", crash)
        with pytest.raises(OSError):
            trainer._take_snapshot(x, y)
        assert not list(trainer.run_dir.snapshots.glob("snapshot-*[0-9].npz"))
    else:
        monkeypatch.setattr(paddle, "save", crash)
        with pytest.raises(OSError):
            trainer.save_checkpoint()
        assert checkpoints.newest(trainer.run_dir) is None
        assert not list(trainer.run_dir.checkpoints.glob("*.pdparams"))


def test_thread_safety_of_controls_under_hammering(mnist, tmp_path):
    cfg = TrainConfig(epochs=20, train_limit=320, val_limit=64, test_limit=64, metrics_interval_s=0.01)
    session = Session.new(cfg, tmp_path, data=mnist)
    trainer = session.make_trainer()
    thread = threading.Thread(target=session.run_trainer)
    thread.start()
    rng = random.Random(0)
    actions = [trainer.pause, trainer.resume, trainer.request_layer_stats, trainer.request_snapshot,
               trainer.request_validation, trainer.request_checkpoint]
    for _ in range(160):  # a fixed number of calls (about 4 s), however busy the machine
        rng.choice(actions)()
        time.sleep(rng.uniform(0, 0.05))
    trainer.stop()
    thread.join(30)
    assert trainer.status == "stopped"


def test_checkpoints_also_come_every_few_minutes_of_training(mnist, tmp_path):
    """--checkpoint-every: a run killed before its first epoch end still has recent work saved."""
    cfg = TrainConfig(epochs=1, train_limit=1280, val_limit=100, test_limit=100, checkpoint_minutes=0.0005,
                      checkpoint_every_epoch=False)
    trainer, rec = run_to_end(Session.new(cfg, tmp_path, data=mnist))
    saved = [e for e in rec if isinstance(e, ev.CheckpointSaved)]
    assert trainer.status is RunStatus.FINISHED
    assert sum(0 < e.batch < 20 for e in saved) >= 2, "mid-epoch, by the clock"


def test_resume_refuses_what_it_would_wipe(tmp_path):
    """A Monitor's run (someone else's code) and an ended run with no checkpoint are not restarted."""
    import json as json_

    from mnist_tui.run.folder import RunDirError

    monitor_run = RunDir.create(tmp_path, "monitor")
    monitor_run.write_json("config.json", {"config": {"epochs": 1}, "source": "Monitor"})
    with pytest.raises(RunDirError, match="your own code"):
        Session.resume(monitor_run.path)
    ended = Session.new(TrainConfig(epochs=1), tmp_path).run
    ended.events_path.write_text(json_.dumps({"type": "Finished", "time": 1.0, "status": "diverged"}) + "\n")
    with pytest.raises(RunDirError, match="has ended"):
        Session.resume(ended.path)
    assert ended.events_path.read_text(), "nothing wiped"


def fake_run(tmp_path, checkpoint_steps=(10, 20), batches=25, record_last=True):
    """A run folder with real checkpoints (a tiny model) and a log of batch lines and their records."""
    run = RunDir.create(tmp_path, "run")
    run.write_json("config.json", {"config": TrainConfig(epochs=3, train_limit=640).to_dict()})
    model = paddle.nn.Linear(2, 2)
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    lines = [json.dumps({"type": "StatusChanged", "time": 0.0, "status": "training", "detail": ""})]
    for step in range(batches):
        lines.append(json.dumps({"type": "BatchMetrics", "time": 1.0, "step": step, "epoch": 0, "batch": step}))
        if step + 1 in checkpoint_steps:
            checkpoint.save(run.checkpoints, model, optimizer, {"epoch": 0, "batch": step + 1, "step": step + 1})
            if record_last or step + 1 != checkpoint_steps[-1]:
                lines.append(json.dumps({"type": "CheckpointSaved", "time": 1.0, "path": "", "epoch": 0,
                                         "batch": step + 1, "step": step + 1}))
    run.events_path.write_text("".join(line + "\n" for line in lines))
    return run, lines


def damage_line(run, number, junk="\x00\x17{\"type\": garbage"):
    lines = run.events_path.read_text().splitlines()
    lines[number - 1] = junk
    run.events_path.write_text("".join(line + "\n" for line in lines))


def test_resume_keeps_every_intact_line_and_names_the_damaged_one(tmp_path):
    run, lines = fake_run(tmp_path)
    damage_line(run, 8)
    session = Session.resume(run.path)
    assert session.resume_meta["step"] == 20
    record_20 = lines.index(next(line for line in lines if '"CheckpointSaved"' in line and '"step": 20' in line))
    kept = run.events_path.read_text().splitlines()
    assert kept[:-1] == lines[:7] + lines[8:record_20 + 1]
    assert any("line 8 damaged" in note for note in session.notes), session.notes
    said = json.loads(kept[-1])  # in the log too, for whichever process trains next and its viewers
    assert said["type"] == "Alert" and said["level"] == "warning" and "line 8 damaged" in said["message"]


@pytest.mark.parametrize("non_event", ["42", "[]", '"text"', "{}"])
def test_resume_leaves_out_lines_that_are_json_but_not_events(tmp_path, non_event):
    run, _lines = fake_run(tmp_path)
    damage_line(run, 3, non_event)
    session = Session.resume(run.path)
    assert session.resume_meta["step"] == 20
    assert non_event not in run.events_path.read_text().splitlines()
    assert any("line 3 damaged" in note for note in session.notes)


def test_a_corrupt_newest_checkpoint_is_passed_over_for_the_previous_one(tmp_path):
    run, _lines = fake_run(tmp_path)
    pdopt = checkpoints.stem(run.checkpoints, 20).with_suffix(".pdopt")
    data = bytearray(pdopt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: Paddle may well load it, the checksum tells
    pdopt.write_bytes(bytes(data))
    session = Session.resume(run.path)
    assert session.resume_meta["step"] == 10
    kept = [line for line in run.events_path.read_text().splitlines() if '"Alert"' not in line]
    assert json.loads(kept[-1]) == {"type": "CheckpointSaved", "time": 1.0, "path": "", "epoch": 0, "batch": 10,
                                    "step": 10}
    assert any("step-0000020.pdopt does not match its checksum" in note for note in session.notes)
    assert any("going on from the intact checkpoint step-0000010" in note for note in session.notes)


def test_a_checkpoint_whose_record_is_damaged_is_not_gone_on_from(tmp_path):
    run, lines = fake_run(tmp_path)
    damage_line(run, next(i for i, line in enumerate(lines, 1) if '"CheckpointSaved"' in line and '"step": 20' in line))
    session = Session.resume(run.path)
    assert session.resume_meta["step"] == 10
    assert any("step-0000020 not used: its record" in note for note in session.notes)


def test_a_checkpoint_saved_just_before_a_kill_counts_without_its_record(tmp_path):
    run, lines = fake_run(tmp_path, checkpoint_steps=(10, 25), record_last=False)
    session = Session.resume(run.path)
    assert session.resume_meta["step"] == 25
    assert run.events_path.read_text().splitlines() == lines
    assert session.notes == []


def test_resume_with_no_intact_checkpoint_refuses_instead_of_wiping_the_log(tmp_path):
    from mnist_tui.run.folder import RunDirError

    run, lines = fake_run(tmp_path)
    for pdparams in run.checkpoints.glob("*.pdparams"):
        pdparams.write_bytes(b"junk")
    with pytest.raises(RunDirError, match="no intact checkpoint to go on from"):
        Session.resume(run.path)
    assert run.events_path.read_text().splitlines() == lines


def test_a_resumed_run_goes_on_past_a_damaged_line_and_a_corrupt_checkpoint(mnist, tmp_path):
    cfg = TrainConfig(epochs=3, train_limit=640, val_limit=64, test_limit=64, metrics_interval_s=0.0)
    first, _ = run_to_end(Session.new(cfg, tmp_path, data=mnist), stop_at_step=24)
    run = first.run_dir
    newest = checkpoints.newest(run)
    assert newest["step"] > 20
    with open(newest["stem"] + ".pdopt", "r+b") as f:
        f.seek(200)
        f.write(b"\x00" * 16)
    lost = json.loads(run.events_path.read_text().splitlines()[4])
    damage_line(run, 5)
    resumed, _rec = run_to_end(Session.resume(run.path, data=mnist))
    assert resumed.status is RunStatus.FINISHED
    logged = read_events(run.events_path)
    steps = [e["step"] for e in logged if e["type"] == "BatchMetrics"]
    assert steps == [s for s in range(30) if not (lost["type"] == "BatchMetrics" and s == lost["step"])], \
        "every batch once, but the one whose line was damaged"
    warnings_ = [e["message"] for e in logged if e["type"] == "Alert" and e["level"] == "warning"]
    assert any("line 5 damaged" in w for w in warnings_)
    assert any(f"{checkpoints.stem(run.checkpoints, newest['step']).name}.pdopt does not match" in w for w in warnings_)
    assert [e["step"] for e in logged if e["type"] == "CheckpointSaved"][:2] == [10, 20]


class FillingDisk:
    """The event log's writes fail with ENOSPC from the `after`-th on, as on a disk that fills up,
    and succeed again once the log gives back its reserve (the space it kept for the run's ending)."""

    def __init__(self, monkeypatch, after: int) -> None:
        from mnist_tui.run import folder as rundir

        self.writes, self.after, self.full = 0, after, False
        real_write, real_give_back = rundir.EventLog._write, rundir.EventLog._give_back_reserve

        def write(log, data):
            self.writes += 1
            if self.writes >= self.after and not self.full and not getattr(self, "freed", False):
                self.full = True
            if self.full:
                os.write(log._fd, data[: len(data) // 2])  # part of the line got out, as happens
                log._torn = True
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write(log, data)

        def give_back(log):
            real_give_back(log)
            if self.full:
                self.full, self.freed = False, True

        monkeypatch.setattr(rundir.EventLog, "_write", write)
        monkeypatch.setattr(rundir.EventLog, "_give_back_reserve", give_back)


def test_a_full_disk_ends_the_run_as_error_in_one_line_and_it_resumes(mnist, tmp_path, monkeypatch):
    import io

    from mnist_tui.host.headless import run_headless
    from mnist_tui.run.index import summarise

    cfg = TrainConfig(epochs=2, train_limit=640, val_limit=64, test_limit=64, metrics_interval_s=0.0, nproc=1)
    session = Session.new(cfg, tmp_path, data=mnist)
    disk = FillingDisk(monkeypatch, after=25)  # past the first batches, before the end
    err, out = io.StringIO(), io.StringIO()
    assert run_headless(session, err=err, out=out) == 1
    assert disk.freed
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-tui: the disk is full"), err.getvalue()
    assert f"mnist-tui --resume {session.run.path}" in lines[0]
    assert "Traceback" not in err.getvalue() + out.getvalue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the torn line the full disk left
        logged = read_events(session.run.events_path)
    assert logged[-1] == {**logged[-1], "type": "Finished", "status": "error"}
    assert logged[-2]["type"] == "ErrorRaised" and "No space left on device" in logged[-2]["message"]
    assert summarise(session.run.path).status.value == "error"
    monkeypatch.undo()  # space freed
    resumed, _ = run_to_end(Session.resume(session.run.path, data=mnist))
    assert resumed.status is RunStatus.FINISHED


def test_a_checkpoint_that_does_not_fit_leaves_no_temporary_file_and_the_run_ends_as_error(mnist, tmp_path,
                                                                                             monkeypatch):
    import io

    from mnist_tui.host.headless import run_headless

    real_save = paddle.save

    def save_until_full(state, path, *args, **kwargs):
        real_save(state, path, *args, **kwargs)
        if str(path).endswith(".pdopt.tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(paddle, "save", save_until_full)
    cfg = TrainConfig(epochs=1, train_limit=320, val_limit=64, test_limit=64, nproc=1)
    session = Session.new(cfg, tmp_path, data=mnist)
    err = io.StringIO()
    assert run_headless(session, err=err, out=io.StringIO()) == 1
    assert err.getvalue().startswith("mnist-tui: the disk is full") and len(err.getvalue().splitlines()) == 1
    assert not list(session.run.checkpoints.glob("*")), "no temporary file, no part of the checkpoint left"
    assert read_events(session.run.events_path)[-1]["status"] == "error"


def test_the_app_s_launcher_checks_a_resume_and_leaves_the_rewrite_to_its_trainer(tmp_path):
    """The app resumes twice (the launcher checks, its background trainer resumes): the warnings
    are written once, by the trainer's resume, and still name the damaged line."""
    run, _lines = fake_run(tmp_path)
    damage_line(run, 8)
    before = run.events_path.read_text()
    assert any("line 8 damaged" in note for note in Session.resume(run.path, rewrite=False).notes)
    assert run.events_path.read_text() == before
    Session.resume(run.path)
    alerts = [json.loads(line) for line in run.events_path.read_text().splitlines() if '"Alert"' in line]
    assert [a["message"] for a in alerts] == [("events.jsonl: line 8 damaged (not an event): left out, "
                                              "every intact line kept")]
