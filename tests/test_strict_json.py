"""Strict JSON: a run whose loss goes NaN leaves an event log and a config that any JSON reader
takes (no `NaN` literals), and the viewers read the NaN back; logs written before still load."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import paddle
import pytest
from paddle import nn

from mnist_tui import Monitor
from mnist_tui.run import events as ev
from mnist_tui.run import strict_json
from mnist_tui.run.folder import EventTail, RunDir, read_events
from mnist_tui.run.index import summarise


def refuse(constant):
    raise ValueError(f"non-standard JSON constant {constant}")


def strict_records(path):
    """Each line parsed by a reader that refuses NaN and Infinity, as JavaScript's JSON.parse does."""
    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def nan_run(tmp_path):
    """A hand loop under the Monitor whose weights turn NaN: loss, statistics and the evaluation are non-finite."""
    paddle.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=3, batch_size=8, stats_every=1,
                             lr=float("nan"))
    x = paddle.randn([8, 1, 28, 28])
    for step in range(3):
        if step == 1:
            with paddle.no_grad():
                net[1].weight.set_value(paddle.full_like(net[1].weight, float("nan")))
        loss = net(x).mean()
        loss.backward()
        net.clear_gradients()
        monitor.batch(loss, float("inf") if step == 2 else 0.5)
    monitor.evaluated(float("nan"), float("-inf"), size=8)
    monitor.close()
    (run,) = tmp_path.iterdir()
    return run


def test_a_nan_run_writes_strict_json_that_viewers_read_back_as_nan(tmp_path):
    run = nan_run(tmp_path)
    records = strict_records(run / "events.jsonl")
    batches = [r for r in records if r["type"] == "BatchMetrics"]
    assert batches[0]["loss"] is not None and "loss_nonfinite" not in batches[0]
    assert batches[1]["loss"] is None and batches[1]["loss_nonfinite"] == "nan"
    assert batches[2]["acc"] is None and batches[2]["acc_nonfinite"] == "inf"
    stats = [r for r in records if r["type"] == "LayerStats"][-1]
    assert any(row.get("mean_nonfinite") == "nan" for row in stats["layers"])
    config = json.loads((run / "config.json").read_text(), parse_constant=refuse)
    assert config["config"]["lr"] is None and config["config"]["lr_nonfinite"] == "nan"

    events = EventTail(run / "events.jsonl").read()[0]
    losses = [e.loss for e in events if isinstance(e, ev.BatchMetrics)]
    assert math.isfinite(losses[0]) and math.isnan(losses[1]) and math.isnan(losses[2])
    assert [e.acc for e in events if isinstance(e, ev.BatchMetrics)][2] == math.inf
    (evaluation,) = [e for e in events if isinstance(e, ev.EvalResult)]
    assert math.isnan(evaluation.loss) and evaluation.acc == -math.inf
    assert math.isnan(RunDir(run).read_config()["config"]["lr"])
    assert "lr_nonfinite" not in RunDir(run).read_config()["config"]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_jq_reads_a_nan_runs_log(tmp_path):
    run = nan_run(tmp_path)
    out = subprocess.run(["jq", "-c", "select(.type == \"BatchMetrics\") | .loss_nonfinite", str(run / "events.jsonl")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["null", '"nan"', '"nan"']


def test_lists_and_nested_rows_keep_the_position_of_each_non_finite_value():
    record = {"type": "SnapshotTaken", "softmax": [0.25, math.inf], "map": [[1.0, -math.inf], [math.nan, 2.0]],
              "layers": [{"name": "fc", "mean": math.nan, "std": 1.0}], "step": 3}
    text = strict_json.dumps(record)
    parsed = json.loads(text, parse_constant=refuse)
    assert parsed["softmax"] == [0.25, None] and parsed["softmax_nonfinite"] == [[1, "inf"]]
    assert parsed["map_nonfinite"] == [[0, 1, "-inf"], [1, 0, "nan"]]
    assert parsed["layers"][0] == {"name": "fc", "mean": None, "mean_nonfinite": "nan", "std": 1.0}
    back = strict_json.loads(text)
    assert back["softmax"] == [0.25, math.inf] and back["map"][0] == [1.0, -math.inf] and math.isnan(back["map"][1][0])
    assert math.isnan(back["layers"][0]["mean"]) and set(back["layers"][0]) == {"name", "mean", "std"}
    assert back["step"] == 3 and set(back) == set(record)


def test_an_old_log_with_nan_literals_still_loads(tmp_path):
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text('{"config": {"epochs": 1, "lr": 0.01}}')
    (run / "events.jsonl").write_text(
        '{"type": "BatchMetrics", "time": 1.0, "epoch": 0, "batch": 0, "step": 0, "loss": NaN, "acc": 0.1, '
        '"images_per_s": 10.0, "elapsed_s": 0.1}\n'
        '{"type": "EvalResult", "time": 2.0, "split": "val", "epoch": 1, "batch": 0, "step": 1, "loss": Infinity, '
        '"acc": 0.5, "running_loss": null, "running_acc": null}\n')
    assert math.isnan(read_events(run / "events.jsonl")[0]["loss"])
    events = EventTail(run / "events.jsonl").read()[0]
    assert math.isnan(events[0].loss) and events[1].loss == math.inf
    assert summarise(run).best_val_acc == 0.5


@pytest.mark.parametrize("marker", ['"loss_nonfinite": [[9, "nan"]]', '"loss_nonfinite": "much"', '"loss_nonfinite": 3',
                                    '"loss_nonfinite": [["x", "nan"]]'])
def test_a_malformed_marker_is_bad_json_not_a_crash(marker):
    with pytest.raises(ValueError, match="malformed"):
        strict_json.loads('{"type": "BatchMetrics", "loss": [1.0], ' + marker + "}")
