"""Other people's training code under the Monitor (tests/third_party/, each script's header names
the public source it mirrors): the run folder holds the figures Paddle itself reported (loss,
each metric under its name, validation means over all samples), strict JSON, the task, and the
viewer shows them at 80x24 with no "nan", no traceback, and no accuracy words where there is none."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import paddle
import pytest
from helpers import wait_for
from scripted import screen_text

from mnist_tui.run import events as ev
from mnist_tui.run.folder import EventTail
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController

sys.path.insert(0, str(Path(__file__).parent / "third_party"))  # the scripts import _data, as a script run does
from _data import PaddleLogs


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def float32_after():
    yield
    paddle.set_default_dtype("float32")  # the float64 script sets the process's default


def script(name: str):
    return importlib.import_module(name)


def events_of(run: Path) -> list[ev.Event]:
    """The run's events, after checking the Monitor itself never failed and the run finished."""
    events = EventTail(run / "events.jsonl").read()[0]
    assert not [e.message for e in events if isinstance(e, ev.ErrorRaised)], "no part of the Monitor failed"
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "done"
    return events


def strict_json(run: Path) -> None:
    """Every line parses with a reader that refuses NaN and Infinity (jq, JSON.parse)."""
    def refuse(constant):
        raise AssertionError(f"{constant} in {run}/events.jsonl")
    for line in (run / "events.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)


def number(value) -> float:
    while isinstance(value, (list, tuple)):
        value = value[0]
    return float(value)


def check_batches(events: list[ev.Event], logs: PaddleLogs, names: list[str]) -> list[ev.BatchMetrics]:
    """Each batch's loss and metrics are what Model.fit logged for it, under the same names."""
    batches = [e for e in events if isinstance(e, ev.BatchMetrics)]
    assert len(batches) == len(logs.train) > 0
    for batch, logged in zip(batches, logs.train):
        assert batch.loss == pytest.approx(number(logged["loss"]), rel=1e-6)
        assert set(batch.metrics) == set(names)
        for name in names:
            assert batch.metrics[name] == pytest.approx(number(logged[name]), rel=1e-6)
    return batches


def check_validations(events: list[ev.Event], logs: PaddleLogs, names: list[str]) -> list[ev.EvalResult]:
    """A validation's loss is the mean over all its samples (Paddle's logs keep the last batch's),
    its metrics are what Paddle accumulated over the split."""
    vals = [e for e in events if isinstance(e, ev.EvalResult) and e.split == "val"]
    assert len(vals) == len(logs.evals) > 0
    for val, batches, final in zip(vals, logs.eval_batches, logs.evals):
        samples = sum(b["batch_size"] for b in batches)
        mean = sum(number(b["loss"]) * b["batch_size"] for b in batches) / samples
        assert val.size == samples and val.loss == pytest.approx(mean, rel=1e-6)
        last = number(batches[-1]["loss"])
        assert len(batches) == 1 or abs(mean - last) > 1e-9, "the mean is not the last batch's loss"
        for name in names:
            assert val.metrics[name] == pytest.approx(number(final[name]), rel=1e-6)
    return vals


async def viewer_text(run: Path) -> str:
    """The run in the viewer at 80x24 after the keys 1 2 r s 3 (r and s on an ended run say why not)."""
    from mnist_tui.tui.screens.run_screen import RunScreen

    app = MnistApp(run.parent, RunController(run))
    texts = []
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.status.ended, "the whole log read, the Finished event included")
        for key in "12rs3":
            await pilot.press(key)
            screen._frame()
            screen._charts_dirty |= {"history-chart", "validation-chart"}
            screen._replot()
            await pilot.pause()
            texts.append(screen_text(app))
        texts += [n.message for n in app._notifications]
    return "\n".join(texts)


def check_views(text: str, accuracy: bool) -> None:
    assert "nan" not in text.lower() and "traceback" not in text.lower()
    if not accuracy:
        assert "acc" not in text.lower(), "no accuracy words for a run without an accuracy"


# ---- the corpus ----
@pytest.mark.anyio
async def test_model_fit_with_top_k_accuracy(tmp_path):
    logs = PaddleLogs()
    model, run = script("hapi_topk").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (started.task, started.accuracy, started.metrics) == ("classification", "acc_top1", ["acc_top1", "acc_top5"])
    batches = check_batches(events, logs, ["acc_top1", "acc_top5"])
    assert all(b.acc == b.metrics["acc_top1"] for b in batches)
    (val,) = check_validations(events, logs, ["acc_top1", "acc_top5"])
    again = model.evaluate(script("_data").dataset(*script("_data").mnist(256, 200)[1]), batch_size=64, verbose=0)
    assert val.metrics == pytest.approx({"acc_top1": again["acc_top1"], "acc_top5": again["acc_top5"]})
    text = await viewer_text(run)
    check_views(text, accuracy=True)
    assert "acc_top5" in text and "acc_top1" in text


@pytest.mark.anyio
async def test_model_fit_with_no_metric(tmp_path):
    logs = PaddleLogs()
    _, run = script("autoencoder_no_metric").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (started.task, started.accuracy, started.metrics) == ("regression", "", [])
    batches = check_batches(events, logs, [])
    assert all(b.acc is None for b in batches)
    (val,) = check_validations(events, logs, [])
    assert val.acc is None
    check_views(await viewer_text(run), accuracy=False)


@pytest.mark.anyio
async def test_regression_with_mse(tmp_path):
    logs = PaddleLogs()
    model, run = script("linear_regression").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (started.task, started.accuracy) == ("regression", "")
    check_batches(events, logs, [])
    (val,) = check_validations(events, logs, [])
    houses = script("linear_regression").houses(150, 1)
    predicted = model.predict_batch([houses[0]])[0]
    assert val.loss == pytest.approx(float(((predicted - houses[1]) ** 2).mean()), rel=1e-5)  # the split's true MSE
    text = await viewer_text(run)
    check_views(text, accuracy=False)
    assert "task is regression" in text or "Validation loss" in text


@pytest.mark.anyio
async def test_a_float64_model(tmp_path):
    logs = PaddleLogs()
    _, run = script("float64_regression").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    assert not [e for e in events if isinstance(e, ev.ErrorRaised)], "the Monitor worked in float64"
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "done"
    check_batches(events, logs, [])
    check_validations(events, logs, [])
    stats = [e for e in events if isinstance(e, ev.LayerStats)]
    assert stats and all(row["std"] > 0 for row in stats[0].layers)
    check_views(await viewer_text(run), accuracy=False)


@pytest.mark.anyio
async def test_a_batchnorm_resnet(tmp_path):
    logs = PaddleLogs()
    _, run = script("resnet_bn").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (started.task, started.accuracy) == ("classification", "acc")
    check_batches(events, logs, ["acc"])
    check_validations(events, logs, ["acc"])
    ratios = [row["update_ratio_log10"] for e in events if isinstance(e, ev.LayerStats) for row in e.layers
              if row.get("update_ratio_log10") is not None]
    assert ratios and max(ratios) < 1, "no update ratio of 10^10 for BatchNorm's constant weights"
    text = await viewer_text(run)
    check_views(text, accuracy=True)
    assert "layer2.bn2" in text or "layer1.bn1" in text


@pytest.mark.anyio
async def test_an_lstm_text_classifier(tmp_path):
    logs = PaddleLogs()
    _, run = script("lstm_text").main(tmp_path, callbacks=[logs])
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert started.task == "classification"
    check_batches(events, logs, ["acc"])
    check_validations(events, logs, ["acc"])
    (lstm,) = [row for row in next(e for e in events if isinstance(e, ev.LayerStats)).layers if row["name"] == "lstm"]
    assert lstm["std"] > 0 and lstm["grad_norm"] and lstm["grad_norm"] > 0, "the LSTM has statistics and gradients"
    check_views(await viewer_text(run), accuracy=True)


@pytest.mark.anyio
async def test_a_gan_with_two_optimisers(tmp_path):
    seen, run = script("gan_mnist").main(tmp_path)
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert (started.task, started.accuracy, started.metrics) == ("other", "", ["g_loss"])
    names = [row["name"] for row in started.layers]
    assert any(n.startswith("generator") for n in names) and any(n.startswith("discriminator") for n in names)
    batches = [e for e in events if isinstance(e, ev.BatchMetrics)]
    assert [(b.loss, b.metrics["g_loss"]) for b in batches] == pytest.approx(seen, rel=1e-6)
    text = await viewer_text(run)
    check_views(text, accuracy=False)
    assert "g_loss" in text


@pytest.mark.anyio
async def test_a_hand_loop_without_epoch_end(tmp_path):
    printed, evaluations, run = script("hand_loop_no_epoch_end").main(tmp_path)
    events = events_of(run)
    strict_json(run)
    batches = [e for e in events if isinstance(e, ev.BatchMetrics)]
    assert [(b.epoch, b.batch, b.loss, b.acc) for b in batches] == pytest.approx(printed, rel=1e-6)
    vals = [e for e in events if isinstance(e, ev.EvalResult)]
    assert [(v.epoch, v.batch, v.size) for v in vals] == [(0, 6, 96), (1, 6, 96)]  # each epoch's 6 batches done
    assert [(v.loss, v.acc) for v in vals] == pytest.approx([(loss, acc) for _, loss, acc, _ in evaluations], rel=1e-6)
    text = await viewer_text(run)
    check_views(text, accuracy=True)
    assert "epoch 2/2" in text


@pytest.mark.anyio
async def test_a_model_returning_a_tuple(tmp_path):
    seen, run = script("googlenet_tuple").main(tmp_path)
    events = events_of(run)
    strict_json(run)
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert started.task == "classification"
    batches = [e for e in events if isinstance(e, ev.BatchMetrics)]
    assert [(b.loss, b.acc) for b in batches] == pytest.approx(seen, rel=1e-6)
    snap = next(e for e in events if isinstance(e, ev.SnapshotTaken))
    (output,) = snap.of_kind("output")
    assert len(output["array"]) == 10 and output["element"] == "[0]", "the network's output: the tuple's first element"
    assert output["classification"] and len(output["softmax"]) == 10
    check_views(await viewer_text(run), accuracy=True)
