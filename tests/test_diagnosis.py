"""The course's diagnosis: an honest gap, collapse caught, what the network gets wrong, and a
final model that still answers after the run."""

from __future__ import annotations

import math
import threading

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from helpers import wait_until
from test_engine import Recorder

from mnist_tui.engine.evaluation import worst_digits
from mnist_tui.engine.session import Session
from mnist_tui.run import diagnosis
from mnist_tui.run import events as ev
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.diagnosis import CollapseWatch, LayerFlags, diagnose
from mnist_tui.run.status import RunStatus

SMALL = TrainConfig(epochs=1, train_limit=640, val_limit=300, test_limit=300, seed=1, stats_every=0)


# ---- the diagnosis, pure ----
def test_diagnosis_reads_the_gap_against_noise():
    assert diagnose(0.95, 10_000, 0.90, 10_000)[0] == "over-fitting"
    assert diagnose(0.90, 10_000, 0.95, 10_000)[0] == "under-trained"
    # 0.1 points apart on 10,000 images each: within sampling noise, so neither.
    verdict, text = diagnose(0.981, 10_000, 0.982, 10_000)
    assert verdict == "fine" and "gap -0.10 points" in text and "over-fitting above 2.00" in text
    # On 100 images each the noise exceeds 2 points, and the text names the threshold in force.
    verdict, text = diagnose(0.80, 100, 0.775, 100)
    assert verdict == "fine" and "over-fitting above 11." in text
    # The same 1.5-point gap is a finding on 10,000 images, noise on 200.
    assert diagnose(0.90, 10_000, 0.915, 10_000)[0] == "under-trained"
    assert diagnose(0.90, 200, 0.915, 200)[0] == "fine"


def flag_row(name, peak, dead=0.0):
    return {"name": name, "mean": 0.1, "std": 0.1, "min": 0.0, "max": peak, "dead_frac": dead, "grad_norm": None}


def test_layer_flags_tell_when_a_kind_of_trouble_appears_not_each_change_of_count():
    flags = LayerFlags()
    flags.start([{"name": "relu", "output_shape": [64, 20, 14, 14]}, {"name": "fc", "output_shape": [64, 10]}])
    assert flags.update([flag_row("relu", 1.0), flag_row("fc", 1.0)]) == {"relu": "ok", "fc": "ok"}
    assert flags.appeared == {}
    flags.update([flag_row("relu", 1.0, dead=0.1), flag_row("fc", 1.0)])
    assert flags.appeared == {"relu": "2 dead channels"}
    flags.update([flag_row("relu", 1.0, dead=0.15), flag_row("fc", 1.0)])
    assert flags.now["relu"] == "3 dead channels" and flags.appeared == {}
    flags.update([flag_row("relu", 1.0, dead=0.15), flag_row("fc", 500.0)])
    assert flags.appeared == {"fc": "exploding: x500 since last refresh"}
    flags.update([flag_row("relu", float("nan")), flag_row("fc", 500.0, dead=0.1)])
    assert flags.appeared == {"relu": "non-finite values", "fc": "1 dead unit"}
    flags.update([flag_row("relu", 1.0), flag_row("fc", 500.0)])
    assert flags.now == {"relu": "ok", "fc": "ok"} and flags.appeared == {}


def test_over_fitting_advice_names_the_l2_flags_and_their_values():
    verdict, text = diagnose(0.99, 10_000, 0.95, 10_000, weight_decay=1e-4, l2={"fc": 1e-3})
    assert verdict == "over-fitting"
    assert "--weight-decay" in text and "--l2" in text and "now --weight-decay 0.0001 --l2 fc=0.001" in text


def test_watch_catches_an_exploded_loss_that_stays():
    watch = CollapseWatch(classes=10)
    assert watch.observe(2.9, 0.12, None) is None
    seen = [watch.observe(58.0, 0.1, 2.9) for _ in range(diagnosis.LOSS_WINDOW)]
    assert all(s is None for s in seen[:-2]) and seen[-1] is not None
    assert seen[-1].startswith(f"loss exploded: median 58 over the last {diagnosis.LOSS_WINDOW} batches") and "2.9" in seen[-1]


def test_watch_ignores_spikes_and_a_trained_model_resumed():
    watch = CollapseWatch(classes=10)
    rng = np.random.default_rng(0)
    for i in range(2000):  # a decreasing loss with rare spikes 10x higher
        loss = 2.3 * math.exp(-i / 100) + 0.05 + (10.0 if rng.random() < 0.05 else 0.0)
        assert watch.observe(loss, min(0.99, 0.1 + i / 300), None) is None
    resumed = CollapseWatch(classes=10)  # early level floored at ln(10): 0.05 -> 0.6 is no explosion
    assert all(resumed.observe(v, 0.9, None) is None for v in [0.05] + [0.6] * 100)


def test_watch_catches_accuracy_at_chance_after_a_few_hundred_batches():
    watch = CollapseWatch(classes=10)
    seen = [watch.observe(2.3, 0.1, None) for _ in range(diagnosis.CHANCE_AFTER)]
    assert all(s is None for s in seen[:-1])
    assert seen[-1].startswith("accuracy stuck at chance: 10.0% over the last 100 batches")


def test_watch_names_a_non_finite_loss_with_the_last_finite_one():
    assert CollapseWatch(10).observe(float("nan"), 0.1, 0.4321) == "non-finite loss (nan; last finite loss 0.4321)"


# ---- the engine ----
def test_validation_measures_train_and_val_the_same_way(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    rec = Recorder(session)
    trainer = session.make_trainer()
    assert session.run_trainer() is RunStatus.FINISHED
    (val,) = [e for e in rec.of(ev.EvalResult) if e.split == "val"]
    assert (val.size, val.train_size) == (300, 640)  # the whole training split when under 10,000
    assert val.running_acc is not None and val.running_loss is not None
    # No step after the last validation: the final model gives the same eval-mode figures.
    again = trainer.evaluate(trainer.train_eval_split)
    assert again.acc == val.train_acc and again.loss == pytest.approx(val.train_loss, rel=1e-6)
    assert val.gap == val.train_acc - val.acc
    assert (val.verdict, val.diagnosis) == diagnose(val.train_acc, 640, val.acc, 300)
    assert val.verdict in diagnosis.VERDICTS
    printed = [e for e in session.run.events_path.read_text().splitlines() if '"EvalResult"' in e]
    assert '"diagnosis": "' in printed[0]


def test_training_subset_is_fixed_per_run_and_capped(mnist, tmp_path):
    cfg = SMALL.with_(train_limit=20_000)
    a = Session.new(cfg, tmp_path, data=mnist).make_trainer()
    b = Session.new(cfg, tmp_path, data=mnist).make_trainer()
    assert len(a.train_eval_split) == 10_000
    np.testing.assert_array_equal(a.train_eval_split.labels, b.train_eval_split.labels)
    assert len(np.unique(a.train_eval_split.images.reshape(10_000, -1)[:50], axis=0)) == 50


def test_confusion_and_worst_digits_equal_numpy_on_a_fixed_model(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    trainer = session.make_trainer()
    trainer._setup(None)  # the seeded initial model: fixed
    split = trainer.val_split
    result = trainer.evaluate(split)
    with paddle.no_grad():
        logits = trainer.model(paddle.to_tensor(split.images)).numpy()
    pred = logits.argmax(axis=1)
    expected = np.zeros((10, 10), int)
    for t, p in zip(split.labels, pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(result.confusion(), expected)
    assert result.acc == pytest.approx(np.trace(expected) / len(split))
    losses = F.cross_entropy(paddle.to_tensor(logits), paddle.to_tensor(split.labels[:, None]), reduction="none")
    losses = losses.numpy().ravel()
    wrong = np.flatnonzero(pred != split.labels)
    worst = result.worst(5)
    np.testing.assert_array_equal(worst, wrong[np.argsort(-losses[wrong])][:5])
    records = worst_digits(result, split, 5)
    first = records[0]
    assert (first["label"], first["pred"]) == (split.labels[worst[0]], pred[worst[0]])
    picture = np.frombuffer(bytes.fromhex(first["image"]), np.uint8).reshape(28, 28)
    np.testing.assert_allclose(picture / 127.5 - 1.0, split.images[worst[0], 0], atol=1 / 127.5)
    probs = np.exp(logits[worst[0]] - logits[worst[0]].max())
    assert first["confidence"] == pytest.approx((probs / probs.sum()).max(), abs=1e-4)


def test_every_evaluation_brings_mistakes_and_statistics(mnist, tmp_path):
    session = Session.new(SMALL.with_(epochs=2), tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    session.run_trainer()
    vals = [e for e in rec.of(ev.EvalResult) if e.split == "val"]
    mistakes = rec.of(ev.Mistakes)
    assert [m.step for m in mistakes] == [v.step for v in vals]
    assert sum(map(sum, mistakes[-1].confusion)) == 300
    assert len(mistakes[-1].worst) == min(8, 300 - round(300 * vals[-1].acc))
    # Statistics: at the first batch, then one per evaluation (automatic refresh is off here).
    assert [s.step for s in rec.of(ev.LayerStats)] == [0, 9, 19]


def test_statistics_every_n_batches_by_default(mnist, tmp_path):
    """Every 100 batches by default; the same code at every 10, on a tenth of the batches."""
    assert TrainConfig().stats_every == 100
    cfg = SMALL.with_(stats_every=10, train_limit=64 * 25, val_limit=100)
    session = Session.new(cfg, tmp_path, data=mnist)
    rec = Recorder(session)
    session.make_trainer()
    session.run_trainer()
    assert [s.step for s in rec.of(ev.LayerStats)] == [0, 10, 20, 24]  # and the evaluation at the end


def test_finished_run_still_answers_on_the_final_model(mnist, tmp_path):
    session = Session.new(SMALL, tmp_path, data=mnist)
    rec = Recorder(session)
    trainer = session.make_trainer()

    def run_and_serve():
        session.run_trainer()
        trainer.serve_final_model()

    thread = threading.Thread(target=run_and_serve, daemon=True)
    thread.start()
    wait_until(lambda: rec.of(ev.Finished), "the run finished")
    assert rec.of(ev.Finished)[0].status == "done"
    stats, snaps, vals = len(rec.of(ev.LayerStats)), len(rec.of(ev.SnapshotTaken)), len(rec.of(ev.Mistakes))
    trainer.request_layer_stats()
    trainer.request_snapshot()
    trainer.request_validation()
    # r, s and v answered; two sets of statistics: r's, and the one that comes with v
    wait_until(lambda: len(rec.of(ev.Mistakes)) > vals and len(rec.of(ev.SnapshotTaken)) > snaps
               and len(rec.of(ev.LayerStats)) >= stats + 2, "r, s and v answered by the final model")
    snap = rec.of(ev.SnapshotTaken)[-1]
    np.testing.assert_array_equal(np.load(snap.path)["conv1.weight"], trainer.model.conv1.weight.numpy())
    final_val = [e for e in rec.of(ev.EvalResult) if e.split == "val"][-1]
    assert final_val.diagnosis and final_val.step == trainer.step
    assert (final_val.epoch, final_val.batch) == (0, trainer.batches_per_epoch)  # not a "next" epoch
    assert thread.is_alive()
    trainer.stop()
    thread.join(30)
    assert not thread.is_alive()


def test_an_older_log_reads_its_running_means_as_such():
    old = {"type": "EvalResult", "split": "val", "epoch": 0, "batch": 781, "step": 781, "loss": 0.07, "acc": 0.98,
           "train_loss": 0.2, "train_acc": 0.92}
    event = ev.from_json(old)
    assert (event.running_acc, event.train_acc, event.gap) == (0.92, None, None)
    new = ev.from_json(ev.EvalResult("val", 0, 1, 1, 0.1, 0.9, 0.3, 0.8, 0.2, 0.95).to_json())
    assert (new.running_acc, new.train_acc) == (0.8, 0.95)
