"""`mnist-tui export`: a run's log read back by TensorBoard's own reader and by VisualDL's."""

from __future__ import annotations

import glob
import io
import json

import numpy as np
import pytest
from PIL import Image
from scripted import ScriptedTrainer, fixed_events, loss_only_events
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_tui.cli.main import main
from mnist_tui.run import events as ev
from mnist_tui.tui.state import RunState


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
    assert len(acc.Images("snapshot/conv1/kernel")) == 1
    assert [(s.step, round(s.value, 1)) for s in acc.Scalars("ranks/1/allreduce_ms")] == [(150, 4.8)]
    assert [round(s.value, 1) for s in acc.Scalars("ranks/0/step_ms")] == [41.2]


def test_tensorboard_and_visualdl_get_the_layer_flags_in_words(tmp_path):
    """relu2 (and pool2 after it) start dying at the second statistics refresh: one text entry there."""
    from visualdl import LogReader

    run = finished_run(tmp_path)
    assert main(["export", str(run), "--tensorboard", str(tmp_path / "tb"), "--visualdl", str(tmp_path / "vdl")]) == 0
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"tensors": 0})
    acc.Reload()
    texts = acc.Tensors("layers/flags/text_summary")
    assert [(t.step, t.tensor_proto.string_val[0].decode()) for t in texts] == [
        (12, "relu2: 2 dead channels\n\npool2: 2 dead channels")]
    reader = LogReader(file_path=glob.glob(str(tmp_path / "vdl" / "vdlrecords.*"))[0])
    assert [(r.id, r.text.encoded_text_string) for r in reader.get_data("text", "layers/flags")] == [
        (12, "relu2: 2 dead channels\n\npool2: 2 dead channels")]


def test_visualdl_export_is_read_back_by_visualdl(tmp_path):
    from visualdl import LogReader

    run = finished_run(tmp_path)
    assert main(["export", str(run), "--visualdl", str(tmp_path / "vdl")]) == 0
    reader = LogReader(file_path=glob.glob(str(tmp_path / "vdl" / "vdlrecords.*"))[0])
    loss = reader.get_data("scalar", "train/loss")
    assert [r.id for r in loss] == list(range(150))
    assert [round(r.value, 3) for r in reader.get_data("scalar", "eval/acc")] == [0.93, 0.95]


def test_the_course_log_export_is_what_headless_training_prints_and_the_app_shows(tmp_path, capsys):
    run = finished_run(tmp_path)
    capsys.readouterr()
    assert main(["export", str(run), "--course-log", "-"]) == 0
    printed = capsys.readouterr().out.splitlines()
    state = RunState()
    state.apply([ev.from_json(json.loads(line)) for line in (run / "events.jsonl").read_text().splitlines()])
    assert printed == list(state.log_lines)
    assert "[layers] epoch: 0, batch: 12, relu2: 2 dead channels · pool2: 2 dead channels" in printed
    assert "[test] epoch: 1, batch: 100, loss=0.200000, acc=0.940000" in printed
    out = tmp_path / "course.log"
    assert main(["export", str(run), "--course-log", str(out)]) == 0
    assert out.read_text().splitlines() == printed
    assert main(["export", str(run), "--course-log", str(out)]) == 2
    assert "already exists; --overwrite replaces it" in capsys.readouterr().err


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


TRAINED_AT = 1_700_000_000.0  # the events' times: long before any export


def run_with_snapshots(tmp_path, panels_per_snapshot):
    """A run folder whose log holds a batch and a snapshot (with its .npz) per entry, timed TRAINED_AT + step."""
    run = tmp_path / "run"
    (run / "snapshots").mkdir(parents=True)
    (run / "config.json").write_text('{"config": {"epochs": 1}}')
    lines = []
    for step, panels in enumerate(panels_per_snapshot):
        path = run / "snapshots" / f"snapshot-{step:03d}.npz"
        np.savez(path, output=np.arange(10.0) + step)
        for event in (ev.BatchMetrics(0, step, step, 1.0 / (step + 1), 0.5, 100.0, step),
                      ev.SnapshotTaken(0, step, step, str(path), panels)):
            lines.append(json.dumps({**event.to_json(), "time": TRAINED_AT + step}) + "\n")
    (run / "events.jsonl").write_text("".join(lines))
    return run


def conv_panels(channel):
    grid = [[float(r * c + channel) for c in range(14)] for r in range(14)]
    return [{"kind": "kernel", "layer": "conv1", "index": "[0][0]", "array": [[0.1 * (r - c) for c in range(5)] for r in range(5)]},
            {"kind": "feature_map", "layer": "conv1", "channel": channel, "index": "", "array": grid},
            {"kind": "output", "layer": "", "element": "", "shape": [10], "size": 10, "array": [0.0] * 10,
             "classification": True, "probabilities": False, "softmax": [0.1] * 10, "predicted": 0}]


def tensorboard_of(out):
    acc = EventAccumulator(str(out), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def png(image):
    return np.asarray(Image.open(io.BytesIO(image.encoded_image_string)).convert("L"))


def test_a_model_without_convolutions_exports_no_images(tmp_path):
    only_output = [conv_panels(0)[-1]]
    run = run_with_snapshots(tmp_path, [only_output, only_output])
    assert main(["export", str(run), "--tensorboard", str(tmp_path / "tb")]) == 0
    acc = tensorboard_of(tmp_path / "tb")
    assert acc.Tags()["images"] == []
    assert [h.step for h in acc.Histograms("snapshot/output")] == [0, 1]


def test_a_moved_run_folder_exports_its_own_snapshot_arrays(tmp_path):
    run = run_with_snapshots(tmp_path, [conv_panels(3), conv_panels(7)])
    moved = run.rename(tmp_path / "moved")  # the log still names the old folder's files
    assert main(["export", str(moved), "--tensorboard", str(tmp_path / "tb")]) == 0
    histograms = tensorboard_of(tmp_path / "tb").Histograms("snapshot/output")
    assert [(h.step, h.histogram_value.max) for h in histograms] == [(0, 9.0), (1, 10.0)]


def test_one_tag_per_figure_the_channel_in_the_caption_and_trainings_times(tmp_path):
    run = run_with_snapshots(tmp_path, [conv_panels(3), conv_panels(7)])
    assert main(["export", str(run), "--tensorboard", str(tmp_path / "tb")]) == 0
    acc = tensorboard_of(tmp_path / "tb")
    assert sorted(acc.Tags()["images"]) == ["snapshot/conv1/feature_map", "snapshot/conv1/kernel"]
    maps = acc.Images("snapshot/conv1/feature_map")
    assert [m.step for m in maps] == [0, 1]
    assert [m.wall_time for m in maps] == [TRAINED_AT, TRAINED_AT + 1]
    assert [h.wall_time for h in acc.Histograms("snapshot/output")] == [TRAINED_AT, TRAINED_AT + 1]
    assert [s.wall_time for s in acc.Scalars("train/loss")] == [TRAINED_AT, TRAINED_AT + 1]
    first, second = png(maps[0]), png(maps[1])
    strip = first.shape[0] - 14 * 8  # a 14x14 map is enlarged 8 times, under its caption
    assert strip > 5 and first[:strip].max() > 200  # the caption is written
    assert (first[:strip] != second[:strip]).any()  # "conv1 channel 3" and "conv1 channel 7" differ
    np.testing.assert_array_equal(first[strip:], second[strip:])  # the maps differ by a constant: same picture


def test_a_second_export_into_the_same_folder_is_refused_unless_overwrite(tmp_path, capsys):
    run = finished_run(tmp_path)
    out = tmp_path / "tb"
    assert main(["export", str(run), "--tensorboard", str(out)]) == 0
    files = sorted(out.iterdir())
    capsys.readouterr()
    assert main(["export", str(run), "--tensorboard", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a TensorBoard export" in err and "--overwrite" in err
    assert sorted(out.iterdir()) == files
    assert main(["export", str(run), "--tensorboard", str(out), "--overwrite"]) == 0
    assert len(tensorboard_of(out).Scalars("train/loss")) == 150  # once, not twice


def test_visualdl_reads_the_images_under_one_tag_with_trainings_times(tmp_path):
    from visualdl import LogReader

    run = run_with_snapshots(tmp_path, [conv_panels(3), conv_panels(7)])
    assert main(["export", str(run), "--visualdl", str(tmp_path / "vdl")]) == 0
    assert main(["export", str(run), "--visualdl", str(tmp_path / "vdl")]) == 2
    reader = LogReader(file_path=glob.glob(str(tmp_path / "vdl" / "vdlrecords.*"))[0])
    maps = reader.get_data("image", "snapshot/conv1/feature_map")
    assert [m.id for m in maps] == [0, 1]
    assert [m.timestamp for m in maps] == [1000 * TRAINED_AT, 1000 * (TRAINED_AT + 1)]


def test_export_names_each_metric_as_the_training_code_did(tmp_path):
    """A Monitor run with top-k accuracy: `train/acc_top1`, `train/acc_top5`, `eval/acc_top5`; a run
    with no metric: loss curves and no accuracy tag."""
    started = ev.RunStarted("r", "cpu", {"batch_size": 8}, 1, 3, 24, 0, [], accuracy="acc_top1",
                            metrics=["acc_top1", "acc_top5"])
    batches = [ev.BatchMetrics(0, s, s, 1.0 - s / 10, 0.5, 10.0, 0.1, {"acc_top1": 0.5, "acc_top5": 0.75 + s / 100})
               for s in range(3)]
    val = ev.EvalResult("val", 0, 3, 3, 0.5, 0.6, size=24, metrics={"acc_top1": 0.6, "acc_top5": 0.9})
    trainer = ScriptedTrainer(tmp_path / "runs", [started, *batches, val], name="topk", serve=False)
    trainer.finish("done")
    trainer.exit()
    loss_only = ScriptedTrainer(tmp_path / "runs", loss_only_events(), name="loss-only", serve=False)
    loss_only.finish("done")
    loss_only.exit()
    for run, out in ((trainer.path, "tb-topk"), (loss_only.path, "tb-loss")):
        assert main(["export", str(run), "--tensorboard", str(tmp_path / out)]) == 0
    topk = EventAccumulator(str(tmp_path / "tb-topk"), size_guidance={"scalars": 0})
    topk.Reload()
    assert [round(s.value, 2) for s in topk.Scalars("train/acc_top5")] == [0.75, 0.76, 0.77]
    assert [round(s.value, 2) for s in topk.Scalars("eval/acc_top5")] == [0.9]
    assert "train/acc" not in topk.Tags()["scalars"]
    plain = EventAccumulator(str(tmp_path / "tb-loss"), size_guidance={"scalars": 0})
    plain.Reload()
    tags = plain.Tags()["scalars"]
    assert "train/loss" in tags and "eval/loss" in tags and not [t for t in tags if "acc" in t]
