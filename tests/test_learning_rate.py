"""The learning rate: logged with every batch by our trainer and by the Monitor, drawn and shown
as a number on the Training tab, exported with the other scalars."""

from __future__ import annotations

import math

import paddle
import pytest
from helpers import wait_for
from paddle import nn
from scripted import write_run

from mnist_tui import Monitor
from mnist_tui.engine.session import Session
from mnist_tui.run import events as ev
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.folder import read_events
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.widgets.live_figures import LiveFigures


def test_the_trainer_logs_each_batchs_cosine_learning_rate(mnist, tmp_path):
    cfg = TrainConfig(epochs=2, train_limit=640, val_limit=300, test_limit=300, lr=0.003, schedule="cosine",
                      nproc=1, train_eval_limit=300)
    session = Session.new(cfg, tmp_path, data=mnist)
    session.make_trainer()
    assert session.run_trainer() is RunStatus.FINISHED
    session.close()
    batches = [e for e in read_events(session.run.events_path) if e["type"] == "BatchMetrics"]
    total = 2 * (640 // 64)
    assert len(batches) == total
    for b in batches:  # Paddle's CosineAnnealingDecay: the rate each batch was stepped with
        assert b["lr"] == pytest.approx(0.5 * 0.003 * (1 + math.cos(math.pi * b["step"] / total)), rel=1e-6)


def test_a_hand_loops_monitor_logs_its_optimizers_learning_rate(tmp_path):
    paddle.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    schedule = paddle.optimizer.lr.StepDecay(learning_rate=0.1, step_size=2, gamma=0.5)
    opt = paddle.optimizer.SGD(learning_rate=schedule, parameters=net.parameters())
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=4, optimizer=opt)
    for _ in range(5):
        loss = nn.functional.cross_entropy(net(paddle.randn([4, 1, 28, 28])), paddle.randint(0, 10, [4, 1]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        monitor.batch(loss)
        schedule.step()
    monitor.close()
    events = read_events(monitor.run.path / "events.jsonl")
    assert [e["lr"] for e in events if e["type"] == "BatchMetrics"] == [0.1, 0.1, 0.05, 0.05, 0.025]
    started = next(e for e in events if e["type"] == "RunStarted")
    assert started["config"]["optimizer"] == "sgd" and started["config"]["lr"] == 0.1


def lr_events() -> list[ev.Event]:
    out: list[ev.Event] = [ev.RunStarted("runs/lr", "CPU", {"batch_size": 64}, 2, 100, 6400, 1000, []),
                           ev.StatusChanged("running")]
    for step in range(200):
        lr = 0.5 * 0.003 * (1 + math.cos(math.pi * step / 200))
        out.append(ev.BatchMetrics(step // 100, step % 100, step, 1 / (1 + step), 0.9, 600.0, step / 10, lr=lr))
    return [*out, ev.Finished("done")]


@pytest.mark.anyio
async def test_the_training_tab_draws_the_learning_rate_and_shows_it(tmp_path):
    run = write_run(tmp_path, "lr", lr_events())
    app = MnistApp(tmp_path, RunController(run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        figures = screen.query_one(LiveFigures)
        await wait_for(pilot, lambda: screen.status.ended and any(s.name == "lr" for s in figures.shown.sparks),
                       "the lr row shown")
        await pilot.pause()
        lines = [figures.render_line(y).text for y in range(figures.size.height)]
        (row,) = [line for line in lines if line.startswith("lr ")]
        last = 0.5 * 0.003 * (1 + math.cos(math.pi * 199 / 200))
        assert f"now {last:.3g}" in row and "start 0.003" in row
        bars = row[6 : row.index("now")].strip()
        assert bars[0] == "█" and bars[-1] == "▁", row  # the cosine decay, from the start to the end
