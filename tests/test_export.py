"""`mnist-tui export`: a run's log read back by TensorBoard's own reader and by VisualDL's."""

from __future__ import annotations

import glob

import pytest
from scripted import ScriptedTrainer, fixed_events
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_tui.cli import main
from mnist_tui.engine import events as ev


def finished_run(tmp_path):
    trainer = ScriptedTrainer(tmp_path / "runs", fixed_events())
    trainer.emit(ev.RankTimes(1, 50, 150, 150, [41.2, 40.9], [5.1, 4.8]))
    trainer.emit(ev.EvalResult("test", 2, 0, 150, 0.2, 0.94))
    trainer.finish("done")
    trainer.exit()
    return trainer.path


def test_tensorboard_export_has_every_batch_and_evaluation(tmp_path):
    run = finished_run(tmp_path)
    assert main(["export", str(run), "--tensorboard", str(tmp_path / "tb")]) == 0
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    loss = acc.Scalars("train/loss")
    batches = [e for e in fixed_events() if isinstance(e, ev.BatchMetrics)]
    assert [s.step for s in loss] == [b.step for b in batches]
    assert [s.value for s in loss] == pytest.approx([b.loss for b in batches], rel=1e-6)  # float32 in the file
    assert len(acc.Scalars("train/acc")) == len(batches)
    assert [round(s.value, 3) for s in acc.Scalars("eval/acc")] == [0.93, 0.95]
    assert [round(s.value, 3) for s in acc.Scalars("eval/gap")] == [0.005, 0.03]
    assert [round(s.value, 2) for s in acc.Scalars("test/acc")] == [0.94]
    assert len(acc.Scalars("layers/relu2/dead_frac")) == 12
    assert len(acc.Images("snapshot/conv1_kernel")) == 1
    assert [(s.step, round(s.value, 1)) for s in acc.Scalars("ranks/1/allreduce_ms")] == [(150, 4.8)]
    assert [round(s.value, 1) for s in acc.Scalars("ranks/0/step_ms")] == [41.2]


def test_visualdl_export_is_read_back_by_visualdl(tmp_path):
    from visualdl import LogReader

    run = finished_run(tmp_path)
    assert main(["export", str(run), "--visualdl", str(tmp_path / "vdl")]) == 0
    reader = LogReader(file_path=glob.glob(str(tmp_path / "vdl" / "vdlrecords.*"))[0])
    loss = reader.get_data("scalar", "train/loss")
    assert [r.id for r in loss] == list(range(150))
    assert [round(r.value, 3) for r in reader.get_data("scalar", "eval/acc")] == [0.93, 0.95]


def test_export_refuses_what_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--tensorboard", str(tmp_path / "tb")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_a_training_run_writes_tensorboard_live(tmp_path, capsys):
    args = ["--headless", "--nproc", "1", "--epochs", "1", "--train-limit", "640", "--val-limit", "100", "--test-limit", "100",
            "--runs-dir", str(tmp_path / "runs"), "--tensorboard", str(tmp_path / "tb")]
    assert main(args) == 0
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    assert [s.step for s in acc.Scalars("train/loss")] == list(range(10))
    assert len(acc.Scalars("eval/acc")) == 1 and len(acc.Scalars("test/acc")) == 1
