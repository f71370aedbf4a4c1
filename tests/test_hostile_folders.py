"""Damaged and hostile run folders: every command says what is wrong in one line (exit status 2),
never hangs on a special file, never reads without bound, and never writes through a link."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys

import pytest
from helpers import one_line

from mnist_tui.cli.main import main
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.folder import EventLog, RunDir, RunDirError, atomic_write_text
from mnist_tui.run.index import list_runs
from mnist_tui.tui.screens.runs_screen import row_cells

GOOD_LINE = json.dumps({"type": "StatusChanged", "time": 1.0, "status": "training", "detail": ""}) + "\n"


class Hung(BaseException):
    """Not an OSError: no `except OSError` on the way swallows it."""


@pytest.fixture(autouse=True)
def no_hang():
    """A read that blocks (a FIFO opened blocking) fails the test instead of hanging the suite."""
    def hung(*_):
        raise Hung("blocked on a special file")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def make_run(tmp_path, events: str | None = GOOD_LINE) -> RunDir:
    run = RunDir.create(tmp_path / "runs", "run")
    run.write_json("config.json", {"config": TrainConfig(epochs=1, train_limit=640).to_dict()})
    if events is not None:
        run.events_path.write_text(events)
    return run


def damage(run: RunDir, how: str) -> None:
    path = run.events_path
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if how == "junk":
        path.write_bytes(random.Random(0).randbytes(5000))
    elif how == "non-objects":
        path.write_text("42\n[]\n\"text\"\n")
    elif how == "directory":
        path.mkdir()
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "dev-zero":
        path.symlink_to("/dev/zero")


DAMAGE = ["junk", "non-objects", "directory", "fifo", "dev-zero"]


@pytest.mark.parametrize("how", DAMAGE)
def test_watch_says_in_one_line_what_is_wrong(tmp_path, capsys, how):
    run = make_run(tmp_path)
    damage(run, how)
    line = one_line(capsys, main(["watch", str(run.path)]))
    assert "events.jsonl" in line


@pytest.mark.parametrize("how", DAMAGE)
def test_export_says_in_one_line_what_is_wrong_and_makes_no_folder(tmp_path, capsys, how):
    run = make_run(tmp_path)
    damage(run, how)
    out = tmp_path / "tb"
    line = one_line(capsys, main(["export", str(run.path), "--tensorboard", str(out)]))
    assert "events.jsonl" in line
    assert not out.exists()


@pytest.mark.parametrize("how", DAMAGE)
def test_resume_says_in_one_line_what_is_wrong_and_keeps_the_folder_as_it_was(tmp_path, capsys, how):
    run = make_run(tmp_path)
    damage(run, how)
    before = sorted(os.listdir(run.path))
    line = one_line(capsys, main(["--headless", "--resume", str(run.path)]))
    assert "events.jsonl" in line
    assert sorted(os.listdir(run.path)) == before


@pytest.mark.parametrize("how", DAMAGE)
def test_the_runs_table_marks_a_damaged_folder_and_lists_the_others(tmp_path, how):
    damaged = make_run(tmp_path)
    damage(damaged, how)
    RunDir.create(tmp_path / "runs", "fine").events_path.write_text(GOOD_LINE)
    runs = {r.name: r for r in list_runs(tmp_path / "runs")}
    assert runs["fine"].damaged is None
    assert "events.jsonl" in runs["run"].damaged
    assert row_cells(runs["run"], False)[2] == "damaged"
    assert runs["run"].optimizer == "adam", "its settings still show"


def test_a_config_that_is_a_fifo_does_not_hang_anything(tmp_path, capsys):
    run = make_run(tmp_path)
    (run.path / "config.json").unlink()
    os.mkfifo(run.path / "config.json")
    assert "config.json" in one_line(capsys, main(["watch", str(run.path)]))
    assert "config.json" in one_line(capsys, main(["--headless", "--resume", str(run.path)]))
    assert "config.json" in list_runs(tmp_path / "runs")[0].damaged


def test_export_skips_a_damaged_line_naming_it(tmp_path, capsys):
    run = make_run(tmp_path, GOOD_LINE + "42\n" + GOOD_LINE)
    pytest.importorskip("tensorboardX")
    assert main(["export", str(run.path), "--tensorboard", str(tmp_path / "tb")]) == 0
    captured = capsys.readouterr()
    assert "2 events written" in captured.out
    assert "skipped line 2" in captured.err


@pytest.mark.parametrize("entry", ["trainer.lock", "config.json.tmp", "config.json", "events.jsonl", "run.log",
                                   "checkpoints/step-0000010.json", "checkpoints"])
def test_resume_refuses_a_folder_whose_entries_are_links(tmp_path, capsys, entry):
    run = make_run(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's file\n")
    target = run.path / entry
    if target.is_dir():
        os.rmdir(target)
    elif target.exists():
        target.unlink()
    target.symlink_to(outside)
    line = one_line(capsys, main(["--headless", "--resume", str(run.path)]))
    assert "is a symbolic link" in line and entry.split("/")[-1] in line
    assert outside.read_text() == "someone else's file\n"


def test_writers_never_follow_a_link(tmp_path):
    from mnist_tui.run.control import hold_trainer_lock

    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    for name in ("events.jsonl", "trainer.lock", "settings.json.tmp"):
        (tmp_path / name).symlink_to(outside)
    with pytest.raises(RunDirError, match="symbolic link"):
        EventLog(tmp_path / "events.jsonl")
    with pytest.raises(RunDirError, match="symbolic link"):
        hold_trainer_lock(tmp_path)
    with pytest.raises(RunDirError, match="symbolic link"):
        atomic_write_text(tmp_path / "settings.json", "{}")
    assert outside.read_text() == "keep\n"
    assert not (tmp_path / "settings.json").exists()


def run_with_read_only(folder, command: list[str]) -> subprocess.CompletedProcess:
    """`command` with `folder` read-only: by chmod, or for root (who writes anywhere) by a read-only
    bind mount in a mount namespace of its own."""
    if os.geteuid() == 0:
        if subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode != 0:
            pytest.skip("root, and no mount namespace to make a read-only folder in")
        quoted = " ".join(f"'{part}'" for part in command)
        command = ["unshare", "-m", "sh", "-c", (f"mount --bind '{folder}' '{folder}' && "
                   f"mount -o remount,ro,bind '{folder}' && exec {quoted}")]
    else:
        os.chmod(folder, 0o555)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # A child process with a timeout of its own: the file's 20 s guard against blocking reads would
    # fire while it imports Paddle on a loaded machine.
    signal.alarm(0)
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    finally:
        os.chmod(folder, 0o755)


@pytest.mark.parametrize("read_only", [".", "checkpoints"])
def test_resume_of_a_read_only_folder_is_one_line_before_training(tmp_path, read_only):
    run = make_run(tmp_path)
    before = run.events_path.read_text()
    result = run_with_read_only(run.path / read_only,
                                [sys.executable, "-m", "mnist_tui", "--headless", "--resume", str(run.path)])
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{(run.path / read_only).resolve()}: cannot be written" in result.stderr
    assert "Traceback" not in result.stderr
    assert run.events_path.read_text() == before, "nothing trained, nothing rewritten"
