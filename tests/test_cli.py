"""The command line: bad values, bad data, bad folders get one clear line and exit status 2."""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import sys

import pytest
from scripted import fixed_events

from mnist_tui import exit_codes
from mnist_tui.cli.main import main
from mnist_tui.engine.data import TEST_LABELS, bundled_dir
from mnist_tui.run import events as ev
from mnist_tui.run.status import RunStatus
from mnist_tui.sinks.course_log import CoursePrinter
from mnist_tui.tui.state import RunState


def exit_status(args) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0"], "--lr: must be a finite number > 0"),
        (["--lr", "-1"], "--lr: must be a finite number > 0"),
        (["--lr", "inf"], "--lr: must be a finite number > 0, got inf"),
        (["--lr", "nan"], "--lr: must be a finite number > 0, got nan"),
        (["--weight-decay", "inf"], "--weight-decay: must be a finite number"),
        (["--l2", "fc=inf"], "--l2 fc: must be a finite number"),
        (["--stats-every", "-1"], "--stats-every: must be >= 0"),
        (["--batch-size", "0"], "--batch-size: must be >= 1"),
        (["--epochs", "0"], "--epochs: must be >= 1"),
        (["--optimizer", "rmsprop"], "unknown 'rmsprop'"),
        (["--l2", "conv1"], "is not LAYER=COEFF"),
        (["--l2", "conv1=abc"], "is not a number"),
        (["--l2", "conv3=1e-4"], "no layer 'conv3'"),
        (["--device", "tpu"], "--device: 'tpu'"),
        (["--lr", "fast"], "invalid float value"),
        (["--data-dir", "/nonexistent/mnist"], "data directory not found"),
        (["--headless", "--batch-size", "128", "--train-limit", "100"], "larger than the training split"),
        (["--headless", "--batch-size", "60000"], "larger than the training split"),
        (["--batch-size", "128", "--train-limit", "100"], "larger than the training split"),  # the app too
        (["--device", "gpu:7"], "--device gpu:7"),  # checked before the run folder, for the app too
        (["--headless", "--device", "gpu:7"], "--device gpu:7"),
        (["--amp"], "--amp: mixed precision needs a GPU"),
        (["--checkpoint-every", "-1"], "--checkpoint-every: must be >= 0 minutes"),
        (["--headless", "--batch-size", "3", "--nproc", "4"], "--batch-size: 3 images cannot be shared by --nproc 4"),
        (["--batch-size", "3", "--nproc", "4"], "--batch-size: 3 images cannot be shared by --nproc 4"),
        (["--headless", "--gpus", "0", "--device", "cpu"], "--gpus 0 with --device cpu"),
        (["--gpus", "0", "--device", "cpu"], "--gpus 0 with --device cpu"),
        (["sweep", "--optimizer", "sgd,rmsprop"], "unknown 'rmsprop'"),
        (["sweep", "--parallel", "0"], "--parallel: must be >= 1"),
    ],
)
def test_bad_values_one_line_status_2(args, message, capsys, tmp_path):
    status = exit_status([*args, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("mnist-tui: ")
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir()), "no run folder for a rejected command"


def test_amp_on_cpu_is_a_usage_error(tmp_path, capsys):
    import paddle

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this Paddle has CUDA")
    assert main(["--headless", "--amp", "--device", "cpu", "--train-limit", "64", "--runs-dir", str(tmp_path)]) == 2


def test_unwritable_runs_dir(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["--headless", "--train-limit", "64", "--runs-dir", str(blocker / "runs")]) == 2
    err = capsys.readouterr().err
    assert "cannot create a run folder" in err and len(err.strip().splitlines()) == 1


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["--headless", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["watch", "run"], ["runs"], ["sweep", "--optimizer", "sgd,adam"]])
def test_the_app_without_a_terminal_is_refused_before_anything_is_made(tmp_path, command, capsys, monkeypatch):
    """stdin from /dev/null, stdout captured (not a terminal): Textual would spin on the empty input;
    nothing is started. In this process: an app started anyway fails the test rather than spinning."""
    from textual.app import App

    def started(*_args, **_kwargs):
        raise AssertionError("the app started without a terminal")

    monkeypatch.setattr(App, "run", started)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")  # a run folder to watch
    with open(os.devnull) as no_input:
        monkeypatch.setattr(sys, "stdin", no_input)
        status = exit_status([*command, "--runs-dir", "runs"])
    said = capsys.readouterr()
    assert status == 2, said.out + said.err
    assert "the app needs a terminal" in said.out + said.err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], check=False, capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_headless_prints_the_course_lines(tmp_path):
    result = run_cli("--headless", "--nproc", "1", "--check-shape", "--train-limit", "640", "--val-limit", "200",
                     "--test-limit", "200", "--epochs", "1", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "conv1-- kernel_size:[20, 1, 5, 5], padding:2, stride:[1, 1]" in out
    assert "inputs_shape: [64, 1, 28, 28]" in out and "outputs8_shape: [64, 10]" in out
    assert "epoch: 0, batch: 0, loss is: [" in out
    assert "[validation] epoch: 0, batch: 10, " in out and "test accuracy: " in out
    assert "[test] epoch: 0, batch: 10, " in out, "the test is numbered as the validation before it"
    lines = out.splitlines()
    after = lines[next(i for i, line in enumerate(lines) if line.startswith("[validation]")) + 1]
    assert after.startswith("[diagnosis] ") and "train " in after and "vs validation" in after
    assert result.stderr == "", "Paddle's stderr goes to the run's log, not the terminal"
    assert "on CPU" in out and "(auto: no CUDA GPU visible" in out, "auto falls back to the CPU and says so"
    (run,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in run.iterdir()} >= {"config.json", "events.jsonl", "checkpoints", "snapshots",
                                              "model.pdparams", "run.log"}


def test_headless_prints_the_lines_the_apps_log_shows_layer_flags_included():
    events = [*fixed_events(), ev.Alert("error", "training diverged at epoch 2, batch 41: loss exploded"),
              ev.StatusChanged("diverged", "training diverged at epoch 2, batch 41: loss exploded"),
              ev.CheckpointSaved("runs/fixed/checkpoints/step-150.pdparams", 2, 0, 200),
              ev.EvalResult("test", 2, 0, 200, 0.2, 0.94, size=1000), ev.Finished("done", 0.94, 0.2)]
    out = io.StringIO()
    printer = CoursePrinter(check_shape=False, out=out)
    for event in events:
        printer(event)
    state = RunState()
    state.apply(events)
    lines = out.getvalue().splitlines()
    assert lines == list(state.log_lines)
    assert "[layers] epoch: 0, batch: 12, relu2: 2 dead channels · pool2: 2 dead channels" in lines
    assert sum(line.startswith("[layers]") for line in lines) == 1, "more dead channels later are not news"
    assert lines.count("error: training diverged at epoch 2, batch 41: loss exploded") == 1
    assert not [line for line in lines if line.startswith("diverged:")], "the alert is not said twice"
    assert lines[-4:] == ["checkpoint at epoch 2, batch 100: runs/fixed/checkpoints/step-150.pdparams",
                          "[test] epoch: 1, batch: 100, loss=0.200000, acc=0.940000", "test accuracy: 0.9400",
                          "finished: done"]


def test_diverging_run_exits_3(tmp_path, capsys, monkeypatch):
    """In-process (Paddle is imported here already); the course lines' own test runs an interpreter."""
    monkeypatch.chdir(tmp_path)
    status = exit_status(["--headless", "--nproc", "1", "--lr", "1e4", "--optimizer", "sgd", "--schedule", "constant",
                          "--train-limit", "640", "--val-limit", "64", "--epochs", "2", "--runs-dir", "runs"])
    said = capsys.readouterr()
    assert status == 3, said.out + said.err
    # Which of the watch's signs comes first at this rate (the loss exploding, or turning non-finite)
    # depends on the CPU's float kernels; tests/test_diagnosis.py tests each sign on its own.
    assert re.search(r"^error: training diverged at epoch 1, batch \d+: .+; try a lower --lr$", said.out, re.MULTILINE)
    (run,) = (tmp_path / "runs").iterdir()
    assert not list((run / "checkpoints").glob("*.pdparams"))


def test_corrupt_bundled_style_file_via_data_dir(tmp_path, capfd):
    data = tmp_path / "data"
    shutil.copytree(bundled_dir(), data, ignore=shutil.ignore_patterns("README.md"))
    labels = data / f"{TEST_LABELS}.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:-100]))
    assert exit_status(["--headless", "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capfd.readouterr().err  # the file descriptor: Paddle's own writes would show too
    assert err.strip().startswith(f"mnist-tui: {labels}")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_gpu_without_cuda_is_a_usage_error(tmp_path, capfd):
    import paddle

    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        pytest.skip("a GPU is visible here")
    assert exit_status(["--headless", "--device", "gpu", "--train-limit", "64", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capfd.readouterr().err
    assert "--device gpu: this Paddle build has no CUDA" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["watch"], "no runs there"),
    (["watch", "/nonexistent/run"], "no such folder"),
    (["watch", "{tmp}"], "not a run folder"),
])
def test_watch_says_what_it_cannot_open(args, message, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    args = [a.replace("{tmp}", str(tmp_path / "empty")) for a in args]
    assert exit_status([*args, "--runs-dir", str(tmp_path / "runs")]) == 2
    assert message in capsys.readouterr().err  # errors go to stderr, as every other command's


def test_resume_refuses_a_run_whose_trainer_lives(tmp_path, capsys):
    from mnist_tui.run.control import hold_trainer_lock

    run = tmp_path / "run"
    run.mkdir()
    lock = hold_trainer_lock(run)
    assert exit_status(["--resume", str(run)]) == 2
    assert "its trainer is still running; mnist-tui watch" in capsys.readouterr().err
    lock.close()


def test_help_lists_the_commands(capsys):
    assert exit_status(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("watch", "runs", "sweep", "export"):
        assert f"  mnist-tui {command} " in out, command


@pytest.mark.parametrize("word, message", [
    ("wacth", "did you mean `mnist-tui watch`?"),
    ("exprot", "did you mean `mnist-tui export`?"),
    ("rnus", "did you mean `mnist-tui runs`?"),
    ("train", "the commands are watch, runs, sweep, export"),
])
def test_a_mistyped_command_suggests_the_nearest(word, message, capsys, tmp_path):
    assert exit_status([word, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"unknown command {word!r}: {message}" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("under", ["file", "file/deeper"])
def test_tensorboard_under_a_file_is_refused_before_any_folder_is_made(tmp_path, capsys, under):
    pytest.importorskip("tensorboardX")
    (tmp_path / "file").write_text("not a folder")
    status = exit_status(["--headless", "--tensorboard", str(tmp_path / under), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{tmp_path / 'file'} is a file, not a folder" in err
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.parametrize("log", ["", "\n\n", '{"no": "type"}\n'])
def test_export_of_a_log_without_events_is_refused_before_any_folder_is_made(tmp_path, capsys, log):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_text(log)
    assert exit_status(["export", str(run), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"mnist-tui: {run / 'events.jsonl'}: holds no event to export"
    assert not (tmp_path / "tb").exists()


def test_resume_with_more_processes_than_the_batch_has_images(tmp_path, capsys):
    from mnist_tui.engine.session import Session
    from mnist_tui.run.config import TrainConfig

    run = Session.new(TrainConfig(batch_size=3), tmp_path).run
    assert exit_status(["--headless", "--resume", str(run.path), "--nproc", "4"]) == 2
    assert "--batch-size: 3 images cannot be shared by --nproc 4" in capsys.readouterr().err


def test_a_trainer_that_returns_without_an_ending_exits_failed_as_before_issue_22():
    assert [exit_codes.of_returned(s) for s in (RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED,
                                                 RunStatus.ERROR, RunStatus.CRASHED)] == [0, 130, 3, 1, 1]
    assert exit_codes.of_returned(RunStatus.PAUSED) == exit_codes.of_returned(RunStatus.TRAINING) == 1
    assert exit_codes.of_run(RunStatus.TRAINING) == 0  # the app leaving a run training
