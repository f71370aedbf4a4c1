"""The engine on real MNIST subsets: it learns, it obeys controls from another thread, and what it
reports (layer statistics, snapshots, checkpoints, the event log) matches the live model."""

from __future__ import annotations

import threading
import time

import numpy as np
import paddle
import pytest
from helpers import wait_until

from mnist_tui.engine.layer_stats import STAT_KEYS
from mnist_tui.engine.session import Session
from mnist_tui.run import checkpoints
from mnist_tui.run import events as ev
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.folder import read_events
from mnist_tui.run.status import RunStatus

SMALL = TrainConfig(epochs=1, train_limit=640, val_limit=300, test_limit=300, seed=1)


class Recorder:
    """Collects events on the training thread; tests read them from the main thread."""

    def __init__(self, session):
        self.events = []
        session.bus.subscribe(self.events.append)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def start(session, **kwargs):
    trainer = session.make_trainer(**kwargs)
    thread = threading.Thread(target=session.run_trainer, daemon=True)
    thread.start()
    return trainer, thread


def test_200_batches_lower_the_loss_and_pass_85_percent(mnist, tmp_path):
    cfg = TrainConfig(epochs=2, train_limit=6400, val_limit=500, test_limit=500, train_eval_limit=500, lr=0.001,
                      schedule="constant", shift=0)
    session = Session.new(cfg, tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    assert session.run_trainer() is RunStatus.FINISHED
    batches = rec.of(ev.BatchMetrics)
    assert len(batches) == 200 and batches[199].step == 199
    first, late = batches[:20], batches[180:200]
    assert np.mean([b.loss for b in late]) < 0.5 * np.mean([b.loss for b in first])
    assert np.mean([b.acc for b in late]) > 0.85
    test = [e for e in rec.of(ev.EvalResult) if e.split == "test"]
    assert len(test) == 1 and test[0].acc > 0.85
    assert (tmp_path / session.run.name / "model.pdparams").is_file()


def test_layer_shapes_match_the_course(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    rec = Recorder(session)
    trainer = session.make_trainer()
    trainer._setup(None)
    shapes = {row["name"]: row["output_shape"] for row in rec.of(ev.RunStarted)[0].layers}
    assert shapes == {
        "conv1": [64, 20, 28, 28], "relu1": [64, 20, 28, 28], "pool1": [64, 20, 14, 14],
        "conv2": [64, 20, 14, 14], "relu2": [64, 20, 14, 14], "pool2": [64, 20, 7, 7],
        "flatten": [64, 980], "fc": [64, 10],
    }
    by_name = {row["name"]: row for row in trainer.layers}
    assert by_name["conv1"]["hyper"] == {"kernel": [5, 5], "stride": [1, 1], "padding": 2, "in": 1, "out": 20}
    assert by_name["conv2"]["param_shapes"] == {"weight": [20, 20, 5, 5], "bias": [20]}
    assert by_name["fc"]["param_count"] == 980 * 10 + 10


def test_pause_resume_stop_from_another_thread(mnist, tmp_path):
    cfg = SMALL.with_(epochs=50, metrics_interval_s=0.05)
    session = Session.new(cfg, tmp_path, data=mnist)
    rec = Recorder(session)
    trainer, thread = start(session)
    wait_until(lambda: len(rec.of(ev.BatchMetrics)) >= 3, "three batches")
    trainer.pause()
    wait_until(lambda: trainer.status == "paused", "paused")
    step, taken = trainer.step, len(rec.of(ev.LayerStats))
    for answered in range(1, 6):  # the paused loop serves each request, and runs no batch in between
        trainer.request_layer_stats()
        wait_until(lambda n=answered: len(rec.of(ev.LayerStats)) == taken + n, f"request {answered} served while paused")
        assert trainer.step == step
    trainer.resume()
    wait_until(lambda: trainer.step > step + 2, "training again")
    trainer.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert trainer.status == "stopped"
    assert rec.of(ev.Finished)[-1].status == "stopped"
    meta = checkpoints.newest(session.run)
    assert meta is not None and meta["step"] == trainer.step


def paused_trainer(mnist, tmp_path, cfg=SMALL):
    """A trainer that ran a few batches and is now paused, with its event recorder."""
    session = Session.new(cfg.with_(epochs=50, metrics_interval_s=0.05), tmp_path, data=mnist)
    rec = Recorder(session)
    trainer, thread = start(session)
    wait_until(lambda: trainer.step >= 5, "five steps")
    trainer.pause()
    wait_until(lambda: trainer.status == "paused", "paused")
    return trainer, thread, rec


def test_snapshot_equals_the_live_model(mnist, tmp_path):
    trainer, thread, rec = paused_trainer(mnist, tmp_path)
    trainer.request_snapshot()
    wait_until(lambda: rec.of(ev.SnapshotTaken), "a snapshot")
    snap = rec.of(ev.SnapshotTaken)[0]
    saved = np.load(snap.path)
    model = trainer.model
    np.testing.assert_array_equal(saved["conv1.weight"], model.conv1.weight.numpy())
    kernels, maps = snap.of_kind("kernel"), snap.of_kind("feature_map")
    assert [p["layer"] for p in kernels] == [p["layer"] for p in maps] == ["conv1", "conv2"]
    np.testing.assert_array_equal(np.array(kernels[0]["array"], np.float32), model.conv1.weight.numpy()[0, 0])
    np.testing.assert_array_equal(np.array(kernels[1]["array"], np.float32), model.conv2.weight.numpy()[0, 0])
    x, y = trainer._last_batch
    with paddle.no_grad():
        outputs = dict(stage_outputs(model, x[:1]))
    np.testing.assert_allclose(saved["output"], outputs["fc"].numpy()[0], rtol=1e-6)
    np.testing.assert_allclose(np.array(maps[0]["array"]), outputs["conv1"].numpy()[0, maps[0]["channel"]], rtol=1e-6)
    assert snap.label == int(y.numpy()[0, 0])
    (output,) = snap.of_kind("output")
    assert output["classification"] and not output["probabilities"] and abs(sum(output["softmax"]) - 1) < 1e-5
    assert output["predicted"] == int(outputs["fc"].numpy()[0].argmax())
    trainer.stop()
    thread.join(30)


def test_snapshot_of_a_picked_layer(mnist, tmp_path):
    """Any convolution or linear layer can be asked for: conv2 then has no second map; fc gives
    its outputs and its weight matrix (block means, a row per output); other names are refused."""
    trainer, thread, rec = paused_trainer(mnist, tmp_path)
    for taken, layer in enumerate(("conv2", "fc"), start=1):
        trainer.request_snapshot(layer)
        wait_until(lambda n=taken: len(rec.of(ev.SnapshotTaken)) == n, f"snapshot {taken}")
    conv2, fc = rec.of(ev.SnapshotTaken)
    x, _ = trainer._last_batch
    outputs = dict(stage_outputs(trainer.model, x[:1]))
    assert [(p["kind"], p["layer"]) for p in conv2.panels] == [("kernel", "conv2"), ("feature_map", "conv2"),
                                                                ("output", "")]
    (conv2_map,) = conv2.of_kind("feature_map")
    np.testing.assert_allclose(np.array(conv2_map["array"]), outputs["conv2"].numpy()[0, conv2_map["channel"]], rtol=1e-6)
    assert [p["kind"] for p in fc.panels] == ["vector", "matrix", "output"]
    (vector,), (matrix,) = fc.of_kind("vector"), fc.of_kind("matrix")
    np.testing.assert_allclose(vector["array"], outputs["fc"].numpy()[0], rtol=1e-6)
    weight = trainer.model.fc.weight.numpy()  # [980, 10]: 10 rows of 980, shrunk by blocks of 25
    assert np.array(matrix["array"]).shape == (10, 39)
    np.testing.assert_allclose(matrix["array"][3][0], weight[:25, 3].mean(), rtol=1e-5)
    np.testing.assert_array_equal(np.load(fc.path)["fc.weight"], weight)
    with pytest.raises(ValueError, match="relu1"):
        trainer.request_snapshot("relu1")
    trainer.stop()
    thread.join(30)


def stage_outputs(model, x) -> list[tuple[str, paddle.Tensor]]:
    """Each stage's output, computed here stage by stage (independently of the engine's hooks)."""
    outputs = []
    with paddle.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            outputs.append((name, x))
    return outputs


def numpy_stats(a: np.ndarray) -> list[float]:
    channels = np.abs(np.moveaxis(a, 1, 0).reshape(a.shape[1], -1)).max(axis=1)
    return [a.mean(), a.std(), a.min(), a.max(), (a == 0).mean(), (channels == 0).mean()]


def test_layer_stats_equal_numpy_on_the_same_batch(mnist, tmp_path):
    trainer, thread, rec = paused_trainer(mnist, tmp_path)
    taken = len(rec.of(ev.LayerStats))  # the first batch's, automatically
    assert taken >= 1 and rec.of(ev.LayerStats)[0].step == 0
    trainer.request_layer_stats()
    wait_until(lambda: len(rec.of(ev.LayerStats)) > taken, "statistics on request")
    stats = rec.of(ev.LayerStats)[-1]
    x, _ = trainer._last_batch
    with paddle.no_grad():
        outputs = {name: out.numpy() for name, out in stage_outputs(trainer.model, x)}
    for row in stats.layers:
        expected = numpy_stats(outputs[row["name"]])
        got = [row[k] for k in STAT_KEYS]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=row["name"])
    by_name = {row["name"]: row for row in stats.layers}
    # ReLU zeros are exactly the non-positive conv outputs: an independent check of zero_frac.
    assert by_name["relu1"]["zero_frac"] == pytest.approx((outputs["conv1"] <= 0).mean(), abs=1e-6)
    assert stats.step == trainer.step - 1
    for name in ("conv1", "conv2", "fc"):  # the last step's gradients, kept while paused
        assert by_name[name]["grad_norm"] > 0
    # Refresh at a batch while running: the update-to-weight ratios of that step appear too.
    trainer.resume()
    wait_until(lambda: trainer.status is RunStatus.TRAINING, "running again")
    trainer.request_layer_stats()
    wait_until(lambda: len(rec.of(ev.LayerStats)) >= taken + 2, "statistics while running")
    fresh = {row["name"]: row for row in rec.of(ev.LayerStats)[taken + 1].layers}
    for name in ("conv1", "conv2", "fc"):
        assert fresh[name]["grad_norm"] > 0
        assert -8 < fresh[name]["update_ratio_log10"] < 0
    assert fresh["relu1"]["grad_norm"] is None
    trainer.stop()
    thread.join(30)


def test_events_jsonl_parses_line_by_line(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    session.make_trainer()
    session.run_trainer()
    session.close()
    lines = session.run.events_path.read_text().splitlines()
    events = read_events(session.run.events_path)
    assert len(events) == len(lines) > 10
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "Finished" and "RunStarted" in kinds and "EvalResult" in kinds
    batches = [e for e in events if e["type"] == "BatchMetrics"]
    assert [b["step"] for b in batches] == list(range(640 // 64))


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "A"}\n{"type": "B"}\n{"type": "C", "lo')
    with pytest.warns(UserWarning, match="skipped line 3: not events"):
        events = read_events(path)
    assert [e["type"] for e in events] == ["A", "B"]


def test_checkpoint_round_trip_gives_the_same_validation(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    session.run_trainer()
    val = [e for e in rec.of(ev.EvalResult) if e.split == "val"][-1]
    meta = checkpoints.newest(session.run)
    assert meta["epoch"] == 1 and meta["batch"] == 0
    fresh = Session(SMALL, session.run, data=mnist, resume_meta=meta)
    trainer = fresh.make_trainer()  # loads the checkpoint files
    trainer._setup(fresh.resume_meta)
    result = trainer.evaluate(trainer.val_split)
    assert result.acc == val.acc
    assert result.loss == pytest.approx(val.loss, rel=1e-6)
    assert (trainer.epoch, trainer.step) == (1, 640 // 64)


def test_weight_decay_per_layer_reaches_paddle(mnist, tmp_path):
    cfg = SMALL.with_(l2={"conv1": 1e-3}, weight_decay=1e-4)
    trainer = Session.new(cfg, tmp_path, data=mnist).make_trainer()
    trainer._setup(None)
    assert trainer.model.conv1.weight.regularizer._coeff == pytest.approx(1e-3)
    assert trainer.model.fc.weight.regularizer is None
    assert trainer.optimizer.regularization._coeff == pytest.approx(1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_collapse_stops_without_a_checkpoint(mnist, tmp_path, optimizer, schedule):
    cfg = SMALL.with_(lr=1e4, optimizer=optimizer, schedule=schedule, epochs=3)
    session = Session.new(cfg, tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    assert session.run_trainer() == "diverged"
    (alert,) = rec.of(ev.Alert)
    assert alert.level == "error" and alert.message.startswith(f"training diverged at epoch {alert.epoch + 1}, batch {alert.batch + 1}:")
    assert "loss exploded" in alert.message or "non-finite loss" in alert.message
    assert checkpoints.newest(session.run) is None  # caught within the first epoch: none was due yet


def test_non_finite_loss_is_caught(mnist, tmp_path, monkeypatch):
    session = Session.new(SMALL.with_(epochs=2), tmp_path, data=mnist)
    rec = Recorder(session)
    trainer = session.make_trainer()
    original = trainer._make_step

    def poisoned():
        step = original()

        def run(x, y):
            loss, acc = step(x, y)
            return (loss * float("nan") if trainer.step >= 4 else loss), acc
        return run
    monkeypatch.setattr(trainer, "_make_step", poisoned)
    assert session.run_trainer() == "diverged"
    (alert,) = rec.of(ev.Alert)
    assert "epoch 1, batch 5: non-finite loss (nan; last finite loss" in alert.message  # the 5th batch, index 4


def test_evaluations_report_their_progress_and_the_rate_leaves_them_out(mnist, tmp_path, monkeypatch):
    """Validation and test say how far they have got (images done of the split plus the training
    subset), and the first batch rate after a validation does not count the validation's time."""
    from mnist_tui.engine import evaluation

    monkeypatch.setattr(evaluation, "PROGRESS_EVERY_S", 0.0)  # a report after every chunk
    monkeypatch.setattr(evaluation, "EVAL_BATCH", 100)
    cfg = TrainConfig(epochs=1, train_limit=640, val_limit=300, test_limit=200, train_eval_limit=400,
                      eval_every=5, seed=1)
    session = Session.new(cfg, tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    real_evaluate = evaluation.evaluate

    def slow_evaluate(*args, **kwargs):
        time.sleep(0.3)  # an evaluation long enough that counting it would show in the next rate
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr("mnist_tui.engine.loop.evaluate", slow_evaluate)
    assert session.run_trainer() is RunStatus.FINISHED
    started = rec.of(ev.RunStarted)[0]
    assert (started.train_eval_size, started.test_size) == (400, 200)
    progress = rec.of(ev.EvalProgress)
    val = [p.done for p in progress if p.split == "val"]
    assert val[:7] == [100, 200, 300, 400, 500, 600, 700] and all(p.total == 700 for p in progress if p.split == "val")
    assert [p.done for p in progress if p.split == "test"] == [100, 200]
    # The batches right after the first validation (at step 5) ran at the rate of the others.
    batches = rec.of(ev.BatchMetrics)
    after = [b.images_per_s for b in batches if 5 <= b.step < 10]
    before = [b.images_per_s for b in batches if b.step < 5]
    assert min(after) > 0.5 * min(before), (before, after)


def test_the_log_reader_s_fast_path_for_batch_lines_names_every_field():
    """A field added to BatchMetrics must be added to from_json's fast path, or it would be dropped."""
    from mnist_tui.run import events as ev

    assert ev._BATCH_KEYS == {"type", "time", *ev.BatchMetrics.__dataclass_fields__}
    record = {**ev.BatchMetrics(1, 2, 3, 0.5, 0.9, 100.0, 4.0, {"acc": 0.9}, 0.01).to_json(), "later_field": 1}
    assert ev.from_json(record) == ev.BatchMetrics(1, 2, 3, 0.5, 0.9, 100.0, 4.0, {"acc": 0.9}, 0.01)
