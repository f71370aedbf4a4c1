"""The run view's header and the figures behind it (tui/pace.py, tui/header.py), without the app."""

from __future__ import annotations

from mnist_tui.run import events as ev
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.pace import Pace, evaluations_due
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.header import fit_header, header_fields


class Viewer:
    name = "20261128-033054"
    engine_status = "running"
    wall_s = 83.0


def state_at_batch_244(rate: float = 800.0) -> RunState:
    state = RunState()
    state.apply([ev.RunStarted("run", "CPU ×2 ranks (auto: no CUDA GPU visible; paddle.DataParallel over gloo)",
                               {"batch_size": 64, "eval_every": 0}, 2, 781, 50_000, 10_000, [],
                               train_eval_size=10_000, test_size=10_000), ev.StatusChanged("running")])
    state.apply([ev.BatchMetrics(0, b, b, 0.5, 0.9, rate, 75.0) for b in range(244)])
    return state


def header(state, status, engine_status, width):
    Viewer.engine_status = engine_status
    return fit_header(header_fields(state, Viewer, status, False), width - 2).plain


def test_evaluations_due_follow_the_trainers_rule():
    assert evaluations_due(0, 10, 5, 0) == 2  # each epoch's end
    assert evaluations_due(0, 10, 5, 2) == 2 + 4  # and every 2 batches, those at an epoch's end counted once
    assert evaluations_due(3, 10, 5, 2) == 2 + 3
    assert evaluations_due(10, 10, 5, 2) == 0


def test_rate_is_a_moving_average_over_training_time():
    pace = Pace()
    for _ in range(1000):
        pace.add_batch(100.0)
    assert round(pace.rate(64)) == 100
    for _ in range(100):
        pace.add_batch(1000.0)  # 6.4 s at 1000 img/s: the 20 s window still holds 13.6 s of the slow ones
    assert 370 < pace.rate(64) < 400  # (13.6 s x 100 + 6,400 images) / 20 s
    for _ in range(300):
        pace.add_batch(1000.0)  # 25.6 s at 1000 img/s in all: the window holds only these
    assert round(pace.rate(64)) == 1000
    assert round(pace.mean_rate()) == round(1400 / (1000 / 100 + 400 / 1000))  # images over training time


def test_header_says_what_the_run_does_and_fits():
    state = state_at_batch_244()
    training = header(state, RunStatus.TRAINING, "running", 80)
    assert "training" in training and "800 img/s" in training and "epoch 1/2" in training
    assert "batch 244/781" in training and "ETA >" in training  # no evaluation timed yet: more than that
    state.apply([ev.StatusChanged("validating"), ev.EvalProgress("val", 12_000, 20_000, 6.0, 81.0)])
    validating = header(state, RunStatus.TRAINING, "validating", 80)
    assert "validating 12,000/20,000" in validating and "img/s" not in validating
    wide = header(state, RunStatus.TRAINING, "validating", 160)
    assert "elapsed 1:21" in wide  # the trainer's clock in the evaluation's report
    # training left; the rest of this validation; two more (each epoch's end); the test
    eta_left = (2 * 781 - 244) * 64 / 800 + 8_000 / 2_000 + (2 * 20_000 + 10_000) / 2_000
    state.pace.eta_shown = None
    assert f"ETA {int(eta_left) // 60}:{int(eta_left) % 60:02d}" in header(state, RunStatus.TRAINING, "validating", 160)
    state.apply([ev.StatusChanged("running"), ev.StatusChanged("paused")])
    paused = header(state, RunStatus.PAUSED, "paused", 80)
    assert "paused" in paused and "img/s" not in paused and "ETA" not in paused
    for status in (RunStatus.FINISHED, RunStatus.CRASHED):
        ended = header(state, status, "running", 160)
        assert status.value in ended and "mean 800 img/s" in ended and "wall 1:23" in ended and "ETA" not in ended


def test_header_drops_fields_whole_never_cuts_one():
    state = state_at_batch_244(rate=12_345.0)
    state.apply([ev.StatusChanged("validating"), ev.EvalProgress("val", 12_000, 20_000, 6.0)])
    Viewer.engine_status = "validating"
    fields = header_fields(state, Viewer, RunStatus.TRAINING, False)
    forms = {form.plain for f in fields for form in (f.full, f.short) if form}
    for width in range(50, 201):
        line = fit_header(fields, width).plain
        assert len(line) <= width, (width, line)
        assert "validating" in line and "e1/2" in line or "epoch 1/2" in line
        for part in line.replace(" │ ", "│").split("│"):
            assert part in forms, (width, part)


def test_settings_line_says_what_decides_a_result():
    from mnist_tui.run.config import TrainConfig
    from mnist_tui.tui.widgets.run_settings import all_settings, settings_line

    config = TrainConfig(optimizer="momentum", lr=0.01, schedule="constant", l2={"fc": 1e-3}, weight_decay=1e-4)
    started = ev.RunStarted("run", "CPU", config.to_dict(), 5, 781, 50_000, 10_000, [], test_size=10_000)
    assert settings_line(started) == ("momentum 0.9 lr 0.01 constant · batch 64 · L2 0.0001 + fc=0.001 · "
                                      "train/val/test 50k/10k/10k")
    assert all_settings(started).startswith("epochs=5 batch_size=64 optimizer=momentum lr=0.01 momentum=0.9 ")
    assert " l2=fc=0.001 " in all_settings(started) and " gpus=- " in all_settings(started)
    loop = ev.RunStarted("run", "CPU", {"optimizer": "Adam", "batch_size": 32}, 2, 50, 1632, 0, [])
    assert settings_line(loop) == "Adam · batch 32 · train 1,632"  # not a round hundred: in full
    fit = ev.RunStarted("run", "CPU", {"optimizer": "momentum", "lr": 0.1, "batch_size": 32}, 2, 50, 1600, 0, [])
    assert settings_line(fit) == "momentum lr 0.1 · batch 32 · train 1.6k"  # Model.fit with Momentum: no factor known
    unknown = ev.RunStarted("run", "CPU", {"optimizer": None, "lr": None, "batch_size": 32}, 2, 50, 1600, 0, [])
    assert settings_line(unknown) == "batch 32 · train 1.6k"


def test_eta_while_testing_counts_the_rest_of_the_test_once():
    state = RunState()
    state.apply([ev.RunStarted("run", "CPU", {"batch_size": 64}, 1, 100, 6400, 1000, [], train_eval_size=1000,
                               test_size=10_000)])
    state.apply([ev.BatchMetrics(0, b, b, 0.5, 0.9, 640.0, b / 10) for b in range(100)])
    state.apply([ev.EvalResult("val", 0, 100, 100, 0.2, 0.9, size=1000), ev.StatusChanged("testing"),
                 ev.EvalProgress("test", 4_000, 10_000, 2.0, 12.0)])
    eta, complete = state.eta()
    assert complete and round(eta, 6) == 6_000 / 2_000  # the 6,000 images left at 2,000 a second


def test_an_ended_runs_wall_time_is_the_runs_tables(tmp_path):
    """The header's wall time and the runs table's are one figure: first event to Finished, not the
    final model's inspections after it."""
    from mnist_tui.run import strict_json
    from mnist_tui.run.folder import CONFIG, RunDir
    from mnist_tui.run.index import summarise
    from mnist_tui.tui.controller import RunController

    run = RunDir.create(tmp_path, "ended")
    run.write_json(CONFIG, {"config": {"batch_size": 64}})
    timed = [(0.0, ev.StatusChanged("starting")),
             (3.0, ev.RunStarted("run", "CPU", {"batch_size": 64}, 1, 10, 640, 100, [])),
             *((4.0 + b, ev.BatchMetrics(0, b, b, 0.5, 0.9, 64.0, 1.0 + b)) for b in range(10)),
             (125.0, ev.Finished("done")),
             (400.0, ev.LayerStats(0, 9, 9, []))]  # r on the final model, long after
    run.events_path.write_text("".join(strict_json.dumps({**e.to_json(), "time": 1e9 + t}) + "\n" for t, e in timed))
    controller = RunController(run.path)
    try:
        events, _ = controller.poll()
        state = RunState()
        state.apply(events)
        line = fit_header(header_fields(state, controller, controller.status, False), 200).plain
    finally:
        controller.close()
    assert summarise(run.path).wall_s == 125.0 and "wall 2:05" in line and "finished" in line, line


def test_eta_counts_a_validation_that_has_begun_before_its_first_report():
    state = state_at_batch_244()
    state.apply([ev.EvalProgress("val", 20_000, 20_000, 10.0, 70.0), ev.EvalResult("val", 0, 200, 200, 0.2, 0.9)])
    state.apply([ev.StatusChanged("running"), ev.StatusChanged("validating")])
    state.pace.eta_shown = None
    eta, complete = state.eta()
    train = (2 * 781 - 244) * 64 / 800
    assert complete and round(eta, 6) == round(train + (20_000 + 2 * 20_000 + 10_000) / 2_000, 6)
