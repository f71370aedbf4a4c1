"""`Monitor` on training it must not disturb: a float64 model, failures inside the Monitor itself,
several networks (a GAN), a hand loop that never calls `epoch_end`. Real small Paddle models,
tiny data, a few batches."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import paddle
import pytest
from helpers import wait_for, wait_until
from paddle import nn

from mnist_tui import Monitor
from mnist_tui.run import events as ev
from mnist_tui.run.control import ControlError
from mnist_tui.run.folder import EventTail
from mnist_tui.tui.state import RunState


def events_of(run) -> list[ev.Event]:
    return EventTail(run / "events.jsonl").read()[0]


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def float64_default():
    paddle.set_default_dtype("float64")
    yield
    paddle.set_default_dtype("float32")


def test_a_float64_regression_under_model_fit_trains_to_the_end_with_statistics(tmp_path, float64_default):
    paddle.seed(0)
    x = np.random.default_rng(0).standard_normal((64, 8))
    y = x.sum(axis=1, keepdims=True)
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])
    model = paddle.Model(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)))
    model.prepare(paddle.optimizer.Adam(parameters=model.parameters()), nn.MSELoss())
    monitor = Monitor(runs_dir=tmp_path, stats_every=1)
    model.fit(data, epochs=1, batch_size=16, verbose=0, callbacks=[monitor])
    events = events_of(monitor.run.path)
    assert not of(events, ev.ErrorRaised) and events[-1].status == "done"
    assert len(of(events, ev.BatchMetrics)) == 4 and len(of(events, ev.LayerStats)) == 4
    rows = {row["name"]: row for row in of(events, ev.LayerStats)[0].layers}
    assert rows["1"]["min"] >= 0 and rows["2"]["grad_norm"] > 0


def make_net() -> nn.Layer:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def train(net: nn.Layer, monitor: Monitor | None, batches: int = 5) -> None:
    """Adam on fixed data; the monitor (if any) asked for a snapshot and a checkpoint on the way."""
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=net.parameters())
    rng = np.random.default_rng(1)
    for i in range(batches):
        x = paddle.to_tensor(rng.standard_normal((8, 6)).astype("float32"))
        y = paddle.to_tensor(rng.integers(0, 3, (8, 1)))
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        if monitor is not None:
            if i == 1:
                with contextlib.suppress(ControlError):  # what a viewer is told once the part is off
                    monitor.request_snapshot()
                with contextlib.suppress(ControlError):
                    monitor.request_checkpoint()
            assert monitor.batch(loss) is True


def explode(*_args, **_kwargs):
    raise RuntimeError("injected failure")


FAILURES = {  # where the failure is injected -> the part that reports it
    "stats": ("mnist_tui.engine.probe.LayerProbe.stats", "statistics"),
    "hook inside the forward": ("mnist_tui.engine.probe.first_tensor", "statistics"),
    "hook inside the backward": ("mnist_tui.engine.probe.LayerProbe._add_grad", "statistics"),
    "snapshot": ("mnist_tui.engine.snapshot.Snapshots.take", "snapshot"),
    "checkpoint": ("mnist_tui.run.checkpoints.stem", "checkpoint"),
    "control": ("mnist_tui.run.control.ControlServer.start", "control"),
}


@pytest.mark.parametrize("where", FAILURES)
def test_a_failure_inside_the_monitor_is_reported_switched_off_and_training_goes_on_unchanged(tmp_path, monkeypatch,
                                                                                             where):
    target, part = FAILURES[where]
    paddle.seed(0)
    alone = make_net()
    train(alone, None)
    paddle.seed(0)
    net = make_net()
    monkeypatch.setattr(target, explode)
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=8, stats_every=1)
    train(net, monitor)
    monitor.close()
    for mine, theirs in zip(net.parameters(), alone.parameters()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())  # bit-identical to training alone
    events = events_of(monitor.run.path)
    (error,) = of(events, ev.ErrorRaised)
    assert error.part == part and "injected failure" in error.message
    log = (monitor.run.path / "run.log").read_text()
    assert "injected failure" in log and "Traceback" in log and error.log_path.endswith("run.log")
    assert part in monitor.off and len(of(events, ev.BatchMetrics)) == 5 and events[-1].status == "done"
    if part == "statistics":
        assert len(of(events, ev.LayerStats)) <= 1  # off after the failure
        with pytest.raises(ControlError, match="statistics failed"):
            monitor.request_layer_stats()
    state = RunState()
    state.apply(events)
    assert state.error is None, "no 'training failed' panel: training did not fail"
    assert part in state.last_alert.message and "training goes on" in state.last_alert.message
    assert "injected failure" in state.monitor_off[part]


def test_a_failing_event_log_stops_the_events_not_the_training(tmp_path, monkeypatch):
    paddle.seed(0)
    alone = make_net()
    train(alone, None)
    paddle.seed(0)
    net = make_net()
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=8, stats_every=1)
    monkeypatch.setattr(type(monitor.log), "__call__", lambda self, event: explode())
    train(net, monitor)
    monitor.close()
    for mine, theirs in zip(net.parameters(), alone.parameters()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert "event log failed and is off" in (monitor.run.path / "run.log").read_text()


def test_a_monitor_run_writes_tensorboard_files_as_it_trains(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    paddle.seed(0)
    net = make_net()
    monitor = Monitor.attach(net, runs_dir=tmp_path / "runs", epochs=1, steps_per_epoch=5, batch_size=8, stats_every=1,
                             tensorboard=tmp_path / "tb")
    train(net, monitor)
    monitor.evaluated(0.5, size=40)
    monitor.close()
    events = events_of(monitor.run.path)
    assert not of(events, ev.ErrorRaised) and events[-1].status == "done"
    board = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0})
    board.Reload()
    batches = of(events, ev.BatchMetrics)
    loss = board.Scalars("train/loss")
    assert [s.step for s in loss] == [b.step for b in batches] == [0, 1, 2, 3, 4]
    assert [s.value for s in loss] == pytest.approx([b.loss for b in batches], rel=1e-6)  # float32 in the file
    assert [s.value for s in board.Scalars("eval/loss")] == [0.5]
    assert [s.step for s in board.Scalars("layers/2/grad_norm")] == [e.step for e in of(events, ev.LayerStats)]


class FailsAtThirdEvent:
    def __init__(self) -> None:
        self.given = 0

    def __call__(self, event) -> None:
        self.given += 1
        if self.given == 3:
            explode()


def test_a_failing_sink_is_reported_and_switched_off_while_training_and_the_other_sinks_go_on(tmp_path):
    paddle.seed(0)
    alone = make_net()
    train(alone, None)
    paddle.seed(0)
    net = make_net()
    failing, received = FailsAtThirdEvent(), []
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=8, stats_every=1,
                             sinks=[failing, received.append])
    train(net, monitor)
    monitor.close()
    for mine, theirs in zip(net.parameters(), alone.parameters()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    events = events_of(monitor.run.path)
    (error,) = of(events, ev.ErrorRaised)
    assert error.part == "FailsAtThirdEvent" and "injected failure" in error.message
    assert failing.given == 3 and "FailsAtThirdEvent" in monitor.off
    assert "FailsAtThirdEvent failed and is off" in (monitor.run.path / "run.log").read_text()
    assert len(of(events, ev.BatchMetrics)) == 5 and events[-1].status == "done"
    # The other sink got every event the log did (the report reached it before the event that failed).
    assert sorted(type(e).__name__ for e in received) == sorted(type(e).__name__ for e in events)


def test_an_unwritable_runs_folder_leaves_the_training_alone(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    paddle.seed(0)
    net = make_net()
    monitor = Monitor.attach(net, runs_dir=blocker, epochs=1, steps_per_epoch=5, batch_size=8)
    train(net, monitor)
    monitor.evaluated(0.5, 0.5)
    monitor.close()
    assert "Monitor is off, training goes on" in capsys.readouterr().err


class Generator(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)

    def forward(self, z):
        return nn.functional.tanh(self.fc(z))


class Discriminator(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(6, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_a_gan_two_networks_and_two_optimisers_attached_as_a_dict(tmp_path):
    paddle.seed(0)
    gen, disc = Generator(), Discriminator()
    opt_g = paddle.optimizer.Adam(learning_rate=0.01, parameters=gen.parameters())
    opt_d = paddle.optimizer.Adam(learning_rate=0.01, parameters=disc.parameters())
    monitor = Monitor.attach({"gen": gen, "disc": disc}, runs_dir=tmp_path, epochs=1, steps_per_epoch=3, batch_size=8,
                             stats_every=1)
    bce = nn.BCEWithLogitsLoss()
    for _ in range(3):
        real, z = paddle.randn([8, 6]), paddle.randn([8, 4])
        fake = gen(z)
        d_loss = bce(disc(real), paddle.ones([8, 1])) + bce(disc(fake.detach()), paddle.zeros([8, 1]))
        d_loss.backward()
        opt_d.step()
        opt_d.clear_grad()
        g_loss = bce(disc(gen(z)), paddle.ones([8, 1]))  # the discriminator's third call in this batch
        g_loss.backward()
        opt_g.step()
        opt_g.clear_grad()
        opt_d.clear_grad()
        monitor.batch(g_loss)
    monitor.close()
    events = events_of(monitor.run.path)
    assert not of(events, ev.ErrorRaised)
    layers = {row["name"]: row for row in of(events, ev.RunStarted)[0].layers}
    assert list(layers) == ["gen.fc", "disc.fc1", "disc.act", "disc.fc2"]
    assert layers["disc.fc1"]["calls"] == 3 and layers["gen.fc"]["calls"] == 2
    stats = {row["name"]: row for row in of(events, ev.LayerStats)[-1].layers}
    assert stats["gen.fc"]["grad_norm"] > 0 and stats["disc.fc2"]["grad_norm"] > 0
    assert stats["disc.fc1"]["calls"] == 3
    assert stats["gen.fc"]["update_ratio_log10"] < 0 and stats["disc.fc1"]["update_ratio_log10"] < 0


def test_a_list_of_networks_is_named_after_their_classes(tmp_path):
    monitor = Monitor.attach([Generator(), Discriminator()], runs_dir=tmp_path, steps_per_epoch=1, batch_size=2)
    Discriminator.forward(monitor.roots["Discriminator"], Generator.forward(monitor.roots["Generator"], paddle.randn([2, 4])))
    monitor.batch(0.3)
    monitor.close()
    started = of(events_of(monitor.run.path), ev.RunStarted)[0]
    assert [row["name"] for row in started.layers] == ["Generator.fc", "Discriminator.fc1", "Discriminator.act",
                                                       "Discriminator.fc2"]


@pytest.mark.parametrize("how", ["steps_per_epoch", "loader"])
def test_a_hand_loop_without_epoch_end_counts_its_epochs(tmp_path, how):
    paddle.seed(0)
    net = make_net()
    data = paddle.io.TensorDataset([paddle.randn([24, 6]), paddle.randint(0, 3, [24, 1])])
    loader = paddle.io.DataLoader(data, batch_size=8)
    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=net.parameters())
    given = {"steps_per_epoch": 3, "batch_size": 8} if how == "steps_per_epoch" else {"loader": loader}
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=2, **given)
    for _ in range(2):
        for x, y in loader:
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            monitor.batch(loss)
        monitor.evaluated(0.5, 0.5, size=24)
    monitor.close()
    events = events_of(monitor.run.path)
    started = of(events, ev.RunStarted)[0]
    assert (started.batches_per_epoch, started.config["batch_size"]) == (3, 8)
    assert [(e.epoch, e.batch) for e in of(events, ev.BatchMetrics)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert [(e.epoch, e.batch) for e in of(events, ev.EvalResult)] == [(0, 3), (1, 3)]


def test_epoch_end_called_as_well_counts_each_epoch_once(tmp_path):
    monitor = Monitor.attach(make_net(), runs_dir=tmp_path, epochs=2, steps_per_epoch=2, batch_size=4, stats_every=0)
    for _ in range(2):
        for _ in range(2):
            monitor.batch(0.5)
        monitor.epoch_end()
        monitor.evaluated(0.4, 0.6)
    monitor.close()
    events = events_of(monitor.run.path)
    assert [(e.epoch, e.batch) for e in of(events, ev.BatchMetrics)] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [(e.epoch, e.batch) for e in of(events, ev.EvalResult)] == [(0, 2), (1, 2)]


class TextEncoder(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.embed, self.lstm = nn.Embedding(30, 8), nn.LSTM(8, 12)

    def forward(self, tokens):
        return self.lstm(self.embed(tokens))[0][:, -1]


class Head(nn.Layer):
    """A BatchNorm (its γ is constant at the start) and one ReLU used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.bn, self.fc2, self.fc3 = nn.Linear(12, 16), nn.BatchNorm1D(16), nn.Linear(16, 16), nn.Linear(16, 2)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.bn(self.fc1(x))))))


@pytest.mark.anyio
async def test_the_layers_tab_shows_every_network_call_and_recurrent_layer_at_80x24(tmp_path):
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController
    from mnist_tui.tui.screens.run_screen import RunScreen
    from mnist_tui.tui.widgets.layers_tab import LayersTab

    paddle.seed(0)
    encoder, head = TextEncoder(), Head()
    opt = paddle.optimizer.Adam(learning_rate=0.01, parameters=encoder.parameters() + head.parameters())
    monitor = Monitor.attach({"enc": encoder, "head": head}, runs_dir=tmp_path, epochs=1, steps_per_epoch=2,
                             batch_size=6, stats_every=1)
    for _ in range(2):
        loss = nn.functional.cross_entropy(head(encoder(paddle.randint(0, 30, [6, 5]))), paddle.randint(0, 2, [6, 1]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        monitor.batch(loss)
    monitor.close()
    app = MnistApp(tmp_path, RunController(monitor.run.path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await pilot.press("2")
        tab = screen.query_one(LayersTab)
        await wait_for(pilot, lambda: tab.cell("stats", "head.fc3", "mean") != "-", "the statistics shown")
        assert tab.cell("structure", "head.relu", "layer") == "head.relu ×2"
        assert tab.cell("structure", "head.relu", "output shape") == "[6, 16] ×2"
        assert tab.cell("stats", "head.relu", "layer") == "head.relu ×2"
        assert tab.cell("structure", "enc.lstm", "output shape") == "[6, 5, 12] ([0])"  # of (output, (h, c))
        assert tab.cell("structure", "enc.lstm", "type") == "LSTM"
        assert tab.cell("structure", "enc.lstm", "hyper") == "8→12"
        lstm = [tab.cell("stats", "enc.lstm", column) for column in ("mean", "std", "grad norm", "log10 upd/w")]
        assert "-" not in lstm, lstm
        ratio = float(tab.cell("stats", "head.bn", "log10 upd/w"))  # BatchNorm's constant γ: a real ratio
        assert -6 < ratio < 0


def test_the_hand_loop_in_the_monitor_docs_runs_as_written(tmp_path, monkeypatch):
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "monitor.md").read_text(encoding="utf-8")
    lines = doc[doc.index("    import paddle", doc.index("This one runs as written")):].splitlines()
    block = itertools.takewhile(lambda line: not line or line.startswith("    "), lines)  # up to the next paragraph
    code = "\n".join(line[4:] for line in block)
    monkeypatch.chdir(tmp_path)
    paddle.seed(0)
    exec(compile(code, "docs/monitor.md", "exec"), {})  # noqa: S102 - the documented snippet itself
    (run,) = (tmp_path / "runs").iterdir()
    events = events_of(run)
    started = of(events, ev.RunStarted)[0]
    assert (started.batches_per_epoch, started.config["batch_size"]) == (4, 64)
    assert [(e.epoch, e.batch) for e in of(events, ev.BatchMetrics)] == [(0, b) for b in range(4)] + [(1, b) for b in range(4)]
    assert [(e.epoch, e.size) for e in of(events, ev.EvalResult)] == [(0, 64), (1, 64)]
    assert events[-1].status == "done" and not of(events, ev.ErrorRaised)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float64"])
def test_a_loss_and_accuracy_of_any_dtype_are_read_as_their_values(tmp_path, dtype):
    monitor = Monitor.attach(make_net(), runs_dir=tmp_path, steps_per_epoch=1, batch_size=4, stats_every=0)
    monitor.batch(paddle.to_tensor(0.75).astype(dtype), paddle.to_tensor([0.5]).astype(dtype))
    monitor.close()
    (batch,) = of(events_of(monitor.run.path), ev.BatchMetrics)
    assert (batch.loss, batch.acc) == (0.75, 0.5)  # both exact in every one of these dtypes


@pytest.mark.anyio
async def test_the_layers_tab_says_the_statistics_failed_and_are_off(tmp_path, monkeypatch):
    from textual.widgets import Static

    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController
    from mnist_tui.tui.screens.run_screen import RunScreen

    monkeypatch.setattr("mnist_tui.engine.probe.LayerProbe.stats", explode)
    monitor = Monitor.attach(make_net(), runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=8, stats_every=1)
    train(monitor.network, monitor, batches=2)
    monitor.close()
    app = MnistApp(tmp_path, RunController(monitor.run.path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await pilot.press("2")
        await wait_for(pilot, lambda: "statistics off" in str(screen.query_one("#taken-at", Static).render()),
                       "the Layers tab says the statistics are off")
        assert "injected failure" in str(screen.query_one("#taken-at", Static).render())


@pytest.mark.parametrize("failing", [False, True], ids=["statistics every batch", "statistics failing"])
def test_model_fit_under_the_monitor_gives_bit_identical_weights(tmp_path, monkeypatch, failing):
    x = np.random.default_rng(0).standard_normal((48, 6)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, (48, 1))
    data = paddle.io.TensorDataset([paddle.to_tensor(x), paddle.to_tensor(y)])

    def fit(callbacks) -> list[np.ndarray]:
        paddle.seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))  # Dropout draws from Paddle's RNG
        model = paddle.Model(net)
        model.prepare(paddle.optimizer.Adam(learning_rate=0.01, parameters=net.parameters()), nn.CrossEntropyLoss(),
                      paddle.metric.Accuracy())
        model.fit(data, data, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=callbacks)
        return [p.numpy() for p in net.parameters()]

    alone = fit([])
    if failing:
        monkeypatch.setattr("mnist_tui.engine.layer_stats.call_moments", explode)
    monitor = Monitor(runs_dir=tmp_path, stats_every=1)
    for mine, theirs in zip(fit([monitor]), alone):
        np.testing.assert_array_equal(mine, theirs)
    events = events_of(monitor.run.path)
    assert len(of(events, ev.BatchMetrics)) == 12 and events[-1].status == "done"
    assert len(of(events, ev.LayerStats)) == (0 if failing else 12)
    assert [e.part for e in of(events, ev.ErrorRaised)] == (["statistics"] if failing else [])


def test_the_final_models_of_several_networks_answer_a_viewer_each_on_its_last_input(tmp_path):
    import threading

    from mnist_tui.run.control import ControlClient

    paddle.seed(0)
    gen, disc = Generator(), Discriminator()
    monitor = Monitor.attach({"gen": gen, "disc": disc}, runs_dir=tmp_path, steps_per_epoch=2, batch_size=4,
                             stats_every=0)
    for _ in range(2):
        disc(gen(paddle.randn([4, 4])))
        disc(paddle.randn([5, 6]))  # the discriminator's last input: 5 real samples
        monitor.batch(0.5)
    viewer = ControlClient(monitor.run.path)
    viewer.connect()
    closing = threading.Thread(target=monitor.close)
    closing.start()
    try:
        wait_until(lambda: of(events_of(monitor.run.path), ev.Finished), "finished")
        before = len(of(events_of(monitor.run.path), ev.LayerStats))  # the first batch's
        viewer.send("request_layer_stats")
        wait_until(lambda: len(of(events_of(monitor.run.path), ev.LayerStats)) > before, "statistics of the final model")
    finally:
        viewer.close()
        closing.join(10)
    rows = {row["name"]: row for row in of(events_of(monitor.run.path), ev.LayerStats)[-1].layers}
    assert set(rows) == {"gen.fc", "disc.fc1", "disc.act", "disc.fc2"}
    assert rows["disc.fc1"]["calls"] == 1  # each network once, on its own last input
    assert rows["disc.fc1"]["update_ratio_log10"] is None and "update_ratio_note" not in rows["disc.fc1"]  # no step
    assert not closing.is_alive()


def test_a_failure_anywhere_in_a_batch_end_switches_the_monitor_off_and_the_run_still_ends(tmp_path, monkeypatch):
    from mnist_tui.run.index import summarise
    from mnist_tui.run.status import RunStatus

    paddle.seed(0)
    alone = make_net()
    train(alone, None)
    paddle.seed(0)
    net = make_net()
    monkeypatch.setattr("mnist_tui.engine.monitor.Monitor._record_batch", explode)
    monitor = Monitor.attach(net, runs_dir=tmp_path, epochs=1, steps_per_epoch=5, batch_size=8)
    train(net, monitor)
    monitor.evaluated(0.5, 0.5)
    monitor.close()
    for mine, theirs in zip(net.parameters(), alone.parameters()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    events = events_of(monitor.run.path)
    assert [e.part for e in of(events, ev.ErrorRaised)] == ["monitor"]  # once, then off
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "done"
    assert summarise(monitor.run.path).status == RunStatus.FINISHED  # its lock released, not "crashed"
