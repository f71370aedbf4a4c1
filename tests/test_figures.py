"""Figures as the training code defines them: metrics under their own names, runs without an
accuracy, the task a run records, and logs written before any of that."""

from __future__ import annotations

import json
import math

import numpy as np
import paddle
import pytest
from helpers import drawn, wait_for
from scripted import ScriptedTrainer, loss_only_events, screen_text

from mnist_tui.engine.monitor import accuracy_name, infer_task
from mnist_tui.run import events as ev
from mnist_tui.sinks.course_log import batch_line, eval_line
from mnist_tui.tui.state import RunState


def started(**fields) -> ev.RunStarted:
    return ev.RunStarted("runs/x", "cpu", {"batch_size": 8}, 1, 10, 80, 0, [], **fields)


@pytest.mark.parametrize(("names", "expected"), [
    (["acc"], "acc"), (["acc_top1", "acc_top5"], "acc_top1"), (["precision", "my_accuracy"], "my_accuracy"),
    (["auc", "recall"], ""), ([], ""),
])
def test_the_accuracy_is_the_first_metric_named_so(names, expected):
    assert accuracy_name(names) == expected


def test_log_lines_name_every_metric_as_paddle_does():
    batch = ev.BatchMetrics(0, 3, 3, 0.5, 0.75, 100.0, 1.0, {"acc_top1": 0.75, "acc_top5": 1.0})
    assert batch_line(batch) == "epoch: 0, batch: 3, loss is: [0.500000], acc_top1 is [0.750000], acc_top5 is [1.000000]"
    assert batch_line(ev.BatchMetrics(0, 3, 3, 0.5, None, 100.0, 1.0)) == "epoch: 0, batch: 3, loss is: [0.500000]"
    assert batch_line(ev.BatchMetrics(0, 3, 3, 0.5, 0.25, 100.0, 1.0)).endswith("acc is [0.250000]")  # our trainer's
    val = ev.EvalResult("val", 1, 0, 20, 0.25, None, size=100)
    assert eval_line(val) == "[validation] epoch: 1, batch: 0, loss=0.250000" and val.gap is None


def test_a_log_written_before_metrics_had_names_still_opens():
    old = [{"type": "RunStarted", "time": 1.0, "run_dir": "r", "device": "cpu", "config": {}, "epochs": 1,
            "batches_per_epoch": 2, "train_size": 2, "val_size": 0, "layers": []},
           {"type": "BatchMetrics", "time": 1.0, "epoch": 0, "batch": 0, "step": 0, "loss": 0.5, "acc": 0.5,
            "images_per_s": 1.0, "elapsed_s": 1.0},
           {"type": "BatchMetrics", "time": 1.0, "epoch": 0, "batch": 1, "step": 1, "loss": 0.5, "acc": math.nan,
            "images_per_s": 1.0, "elapsed_s": 1.0},
           {"type": "EvalResult", "time": 1.0, "split": "val", "epoch": 0, "batch": 1, "step": 1, "loss": 0.4,
            "acc": None}]
    first, batch, nan_batch, val = [ev.from_json(r) for r in old]
    assert first.task == ev.CLASSIFICATION and first.accuracy == "acc" and first.metrics == []
    assert batch.acc == 0.5 and batch.metrics == {} and batch_line(batch).endswith("acc is [0.500000]")
    assert nan_batch.acc is None and val.acc is None  # an older Monitor wrote NaN (or null) for "no metric"
    state = RunState()
    state.apply([first, nan_batch, val])
    assert not state.has_accuracy and "nan" not in state.diagnosis().lower()


def test_a_run_without_a_metric_shows_no_accuracy_anywhere_in_its_state():
    state = RunState()
    state.apply([started(task=ev.REGRESSION, accuracy=""),
                 ev.BatchMetrics(0, 0, 0, 2.5, None, 10.0, 0.1),
                 ev.EvalResult("val", 0, 1, 1, 1.25, None, size=64)])
    assert not state.has_accuracy and not state.classifies and state.best_acc is None
    assert state.acc_history.all_buckets() == []
    words = state.diagnosis() + " ".join(state.log_lines)
    assert "acc" not in words.lower() and "nan" not in words.lower()
    assert state.diagnosis().startswith("Validation loss 1.2500 at epoch 1, batch 1")


def test_no_accuracy_is_claimed_before_the_runs_start_is_read():
    state = RunState()
    assert not state.has_accuracy  # a regression's chart was titled "accuracy" until its RunStarted came
    state.apply([started()])
    assert state.has_accuracy and state.accuracy_words == "accuracy"


def test_several_metrics_keep_their_names_and_the_first_accuracy_is_the_apps():
    state = RunState()
    state.apply([started(accuracy="acc_top1", metrics=["acc_top1", "acc_top5"]),
                 ev.BatchMetrics(0, 0, 0, 2.0, 0.5, 10.0, 0.1, {"acc_top1": 0.5, "acc_top5": 0.875}),
                 ev.EvalResult("val", 0, 1, 1, 1.5, 0.6, size=64, metrics={"acc_top1": 0.6, "acc_top5": 0.9})])
    assert state.has_accuracy and state.best_acc == 0.5 and state.accuracy_name == "acc_top1"
    assert list(state.metric_windows) == ["acc_top5"] and state.metric_windows["acc_top5"].current == 0.875
    assert state.diagnosis().startswith("Validation accuracy (acc_top1) 60.00% (loss 1.5000, acc_top5 90.00%)")


def tensor(shape, dtype):
    return paddle.to_tensor(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize(("output", "labels", "loss", "acc", "task"), [
    ([8, 10], [8, 1], paddle.nn.CrossEntropyLoss(), True, ev.CLASSIFICATION),
    ([8, 10], [8], None, False, ev.CLASSIFICATION),  # integer labels, a score per class: no metric needed
    ([8, 1], [8, 1], paddle.nn.MSELoss(), False, ev.REGRESSION),
    ([8, 1], [8, 1], paddle.nn.BCELoss(), False, ev.OTHER),  # a sigmoid score
    ([8, 64], [8, 3], None, False, ev.OTHER),  # embeddings, real targets of another shape
    ([8, 10], None, None, True, ev.CLASSIFICATION),  # a hand loop: no labels, an accuracy and scores
    ([8, 1], None, None, False, ev.OTHER),
])
def test_the_task_is_inferred_from_the_first_batch(output, labels, loss, acc, task):
    label = None if labels is None else (tensor(labels, "int64") if task == ev.CLASSIFICATION else
                                         tensor(labels, "float32"))
    out = tensor(output, "float32")
    labels = None if label is None else [label]
    assert infer_task((out, tensor([8, 4], "float32")), labels, loss, acc) == task  # a tuple: its first


def test_the_recorded_task_is_in_config_json_and_run_started(tmp_path):
    from mnist_tui import Monitor

    net = paddle.nn.Linear(3, 1)
    monitor = Monitor.attach(net, runs_dir=tmp_path, steps_per_epoch=1, batch_size=4, task="regression")
    monitor.hold_for_viewers = False
    net(paddle.ones([4, 3]))
    monitor.batch(paddle.to_tensor(0.5))
    monitor.close()
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "config.json").read_text())["task"] == "regression"
    first = json.loads((run / "events.jsonl").read_text().splitlines()[1])
    assert first["type"] == "RunStarted" and first["task"] == "regression" and first["accuracy"] == ""
    with pytest.raises(ValueError, match="task must be one of"):
        Monitor(task="segmentation")


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def shown(app, pilot, keys: str) -> str:
    """The screen's text after each key, all of it."""
    texts = []
    for key in keys:
        await pilot.press(key)
        if key == "4":
            await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", "the runs table")
        await drawn(pilot)
        texts.append(screen_text(app))
    return "\n".join(texts)


@pytest.mark.anyio
async def test_a_loss_only_run_shows_no_accuracy_word_on_any_view(tmp_path):
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController

    trainer = ScriptedTrainer(tmp_path, loss_only_events())
    ScriptedTrainer(tmp_path, loss_only_events(), name="second", serve=False)  # two runs to compare
    app = MnistApp(tmp_path, RunController(trainer.path))
    async with app.run_test(size=(80, 24)) as pilot:
        text = await shown(app, pilot, "13")
        mistakes = str(app.screen.query_one("#mistakes-title").render())
        text += await shown(app, pilot, "4")
        await wait_for(pilot, lambda: app.screen.loaded, "the runs table's folder read (in a thread)")
        await pilot.press("space", "space", "c")  # the compare view of the two
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen" and app.screen.loaded,
                       "the compare view's runs read (in a thread)")
        await pilot.pause()
        text += screen_text(app)
    assert "loss 3.125" in text and "val loss" in text and "Validation loss 3.1250" in text
    assert mistakes == "No confusion matrix or worst examples: this run's task is regression, not classification."
    assert "nan" not in text.lower() and "Traceback" not in text
    assert "acc" not in text, "no accuracy word on any view, the compare view included"
    assert "validation loss" in text and "loss 3.125" in text


@pytest.mark.anyio
async def test_top_k_metrics_show_under_their_names(tmp_path):
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController

    events = [started(accuracy="acc_top1", metrics=["acc_top1", "acc_top5"]), ev.StatusChanged("running")]
    events += [ev.BatchMetrics(0, s, s, 2.0 - s / 10, 0.5, 10.0, 0.1, {"acc_top1": 0.5, "acc_top5": 0.875})
               for s in range(5)]
    events.append(ev.EvalResult("val", 0, 4, 4, 1.5, 0.625, size=64, metrics={"acc_top1": 0.625, "acc_top5": 0.9375}))
    app = MnistApp(tmp_path, RunController(ScriptedTrainer(tmp_path, events).path))
    async with app.run_test(size=(80, 24)) as pilot:
        training = await shown(app, pilot, "1")
        validation = await shown(app, pilot, "3")
        log = "\n".join(app.screen.state.log_lines)
    rows = training.splitlines()
    assert any(r.startswith("acc_top1") and "now 0.500" in r for r in rows)
    assert any(r.startswith("acc_top5") and "now 0.875" in r for r in rows)
    assert "loss is: [1.600000], acc_top1 is [0.500000], acc_top5 is [0.875000]" in log
    assert "val acc_top5" in validation and "93.75" in validation and "62.50" in validation
    assert "nan" not in (training + validation).lower()


@pytest.mark.anyio
async def test_a_run_that_ended_without_validating_does_not_promise_one(tmp_path):
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController
    from mnist_tui.tui.screens.run_screen import RunScreen

    trainer = ScriptedTrainer(tmp_path, [e for e in loss_only_events() if not isinstance(e, ev.EvalResult)])
    trainer.finish("done")
    trainer.exit()
    app = MnistApp(tmp_path, RunController(trainer.path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.status.ended, "the end read")
        text = await shown(app, pilot, "3")
    assert "No evaluation: this run ended without validating." in text and "press v" not in text


class MeanScore(paddle.metric.Metric):
    """A metric of one's own: the mean top score, named by `name()`."""

    def __init__(self):
        super().__init__()
        self.reset()

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, scores, *_labels):
        scores = np.asarray(scores)
        self.total += float(scores.max(axis=1).sum())
        self.count += len(scores)

    def accumulate(self):
        return self.total / max(self.count, 1)

    def name(self):
        return "mean_score"


def test_a_custom_metric_keeps_its_name_beside_accuracy(tmp_path):
    from mnist_tui import Monitor
    from mnist_tui.run.folder import EventTail

    class Logged(paddle.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_train_batch_end(self, step, logs=None):
            self.batches.append(dict(logs))

    paddle.seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((96, 8)).astype("float32"), rng.integers(0, 3, (96, 1)).astype("int64")
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])
    model = paddle.Model(paddle.nn.Sequential(paddle.nn.Linear(8, 3), paddle.nn.Softmax()))
    model.prepare(paddle.optimizer.SGD(parameters=model.parameters()), paddle.nn.CrossEntropyLoss(use_softmax=False),
                  [paddle.metric.Accuracy(), MeanScore()])
    logged = Logged()
    model.fit(data, data, batch_size=32, epochs=1, verbose=0, callbacks=[Monitor(tmp_path, hold_for_viewers=False), logged])
    (run,) = tmp_path.iterdir()
    events = EventTail(run / "events.jsonl").read()[0]
    first = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (first.metrics, first.accuracy, first.task) == (["acc", "mean_score"], "acc", ev.CLASSIFICATION)
    batches = [e for e in events if isinstance(e, ev.BatchMetrics)]
    assert [b.metrics["mean_score"] for b in batches] == pytest.approx([b["mean_score"] for b in logged.batches])
    assert [b.acc for b in batches] == pytest.approx([b["acc"] for b in logged.batches])
    (val,) = [e for e in events if isinstance(e, ev.EvalResult)]
    again = model.evaluate(data, batch_size=32, verbose=0)
    assert val.metrics == pytest.approx({"acc": again["acc"], "mean_score": again["mean_score"]})
    state = RunState()
    state.apply(events)
    assert list(state.metric_windows) == ["mean_score"]


def test_the_settings_line_takes_a_monitor_runs_config_as_it_is():
    from mnist_tui.tui.widgets.run_settings import settings_line

    momentum = started()
    momentum.config = {"optimizer": "momentum", "lr": 0.05, "batch_size": 32}  # Model.fit's: no momentum value
    assert settings_line(momentum).startswith("momentum lr 0.05")
    nothing = started()
    nothing.config = {"optimizer": None, "lr": None, "batch_size": 8}
    assert settings_line(nothing).startswith("batch 8")


def test_paddles_accuracy_is_the_accuracy_whatever_its_name(tmp_path):
    from mnist_tui import Monitor
    from mnist_tui.run.folder import EventTail

    paddle.seed(0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((64, 8)).astype("float32"), rng.integers(0, 3, (64, 1)).astype("int64")
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])
    model = paddle.Model(paddle.nn.Linear(8, 3))
    model.prepare(paddle.optimizer.SGD(parameters=model.parameters()), paddle.nn.CrossEntropyLoss(),
                  [MeanScore(), paddle.metric.Accuracy(name="hit")])
    model.fit(data, batch_size=32, epochs=1, verbose=0, callbacks=[Monitor(tmp_path, hold_for_viewers=False)])
    (run,) = tmp_path.iterdir()
    events = EventTail(run / "events.jsonl").read()[0]
    first = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (first.metrics, first.accuracy) == (["mean_score", "hit"], "hit")
    assert all(b.acc == b.metrics["hit"] for b in events if isinstance(b, ev.BatchMetrics))
