"""End to end, training for real: the app's background trainer, a headless run watched from
outside, hang-ups, kills and resumes. Small subsets; the UI's own behaviour is in test_app.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
from helpers import wait_for, wait_until
from textual.widgets import Static

from mnist_tui.engine.session import Session
from mnist_tui.host.background import start
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.control import trainer_alive
from mnist_tui.run.status import RunStatus
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.quit_screen import QuitScreen
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.snapshot_screen import SnapshotScreen

SMALL = TrainConfig(epochs=1, train_limit=640, val_limit=200, test_limit=200, seed=1, nproc=1)  # ranks: test_ranks.py
LONG = SMALL.with_(epochs=30)  # long enough to act on while it trains


@pytest.fixture
def anyio_backend():
    return "asyncio"


def kinds(run_path) -> list[dict]:
    return [json.loads(line) for line in (run_path / "events.jsonl").read_text().splitlines()]


def screen_of(app: MnistApp) -> RunScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunScreen))


def started_app(cfg: TrainConfig, root) -> tuple[Session, object, MnistApp]:
    """What `mnist-tui` does: a run folder, its background trainer, the app watching it."""
    session = Session.new(cfg, root)
    process = start(session.run.path)
    return session, process, MnistApp(root, RunController(session.run.path, process), owns_run=True)


@pytest.mark.anyio
async def test_the_apps_background_trainer_obeys_and_stops_with_a_checkpoint(tmp_path):
    session, process, app = started_app(LONG, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = screen_of(app)
        await wait_for(pilot, lambda: screen.state.step >= 3, what="a few batches")
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.status is RunStatus.PAUSED, what="paused")
        step = screen.state.step
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotScreen) and app.screen.query("#numbers-0"),
                       what="snapshot view")
        snap = screen.state.snapshots[-1]
        saved = screen.state.checkpoints
        await pilot.press("escape", "c")  # the model lives in the trainer: a checkpoint taken while paused holds it
        await wait_for(pilot, lambda: screen.state.checkpoints > saved, what="a checkpoint")
        params = max(session.run.checkpoints.glob("step-*.pdparams"))
        weights = paddle.load(str(params))["conv1.weight"].numpy()[0, 0]
        assert np.allclose(np.array(snap.of_kind("kernel")[0]["array"]), weights, atol=1e-6)
        assert screen.state.step == step, "paused: no batch ran meanwhile"
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=30, what="left once stopped")
    assert app.return_code == 130 and process.wait(30) == 130  # the app and headless: stopped
    events = kinds(session.run.path)
    assert ("stopped", "Finished") == (events[-1].get("status"), events[-1]["type"])
    assert [e["status"] for e in events if e["type"] == "StatusChanged"].count("paused") >= 1


def test_a_headless_run_is_watched_and_paused_from_outside(tmp_path):
    """What `mnist-tui watch` does, without the screen: read the log as it grows, pause through the channel."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "--headless", "--nproc", "1", "--epochs", "30", "--train-limit", "640",
                             "--val-limit", "200", "--test-limit", "200", "--runs-dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_until(lambda: any(tmp_path.iterdir()), what="the run folder")
        run = next(tmp_path.iterdir())
        watcher = RunController(run)
        epochs = set()

        def seen_epochs(n):
            epochs.update(e.epoch for e in watcher.poll()[0] if hasattr(e, "epoch") and type(e).__name__ == "BatchMetrics")
            return len(epochs) >= n

        wait_until(lambda: seen_epochs(2), what="the epoch advancing")
        assert watcher.send("toggle_pause") is None
        wait_until(lambda: (watcher.poll(), watcher.status)[1] is RunStatus.PAUSED, what="paused")
        assert any(e["type"] == "StatusChanged" and e["status"] == "paused" for e in kinds(run))
        assert watcher.send("toggle_pause") is None
        wait_until(lambda: (watcher.poll(), watcher.status)[1] is RunStatus.TRAINING, what="training again")
        assert watcher.send("stop") is None
        assert proc.wait(60) == 130
        watcher.poll()
        assert watcher.status is RunStatus.STOPPED
    finally:
        proc.kill()


def test_a_hang_up_leaves_the_background_trainer_training(tmp_path):
    session = Session.new(SMALL, tmp_path)
    process = start(session.run.path)
    assert os.getsid(process.pid) != os.getsid(0), "its own session: a terminal's hang-up does not reach it"
    wait_until(lambda: "RunStarted" in (session.run.events_path.read_text() if session.run.events_path.exists() else ""),
         what="training started")
    process.send_signal(signal.SIGHUP)
    assert "Finished" not in session.run.events_path.read_text(), "the hang-up reached a trainer still training"
    assert process.wait(120) == 0
    assert kinds(session.run.path)[-1] == {**kinds(session.run.path)[-1], "type": "Finished", "status": "done"}


def test_killed_before_its_first_checkpoint_it_shows_crashed_and_resume_restarts_it(tmp_path):
    session = Session.new(SMALL.with_(train_limit=1920), tmp_path)  # 30 batches before its checkpoint
    process = start(session.run.path)
    run = session.run.path
    wait_until(lambda: run.joinpath("events.jsonl").exists() and '"BatchMetrics"' in run.joinpath("events.jsonl").read_text(),
         what="the first batches")
    assert not list(session.run.checkpoints.glob("*.json"))
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    watcher = RunController(run)
    watcher.poll()
    assert watcher.status is RunStatus.CRASHED and not trainer_alive(run)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "mnist_tui", "--headless", "--resume", str(run)],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    events = kinds(run)
    assert [e["step"] for e in events if e["type"] == "BatchMetrics"] == list(range(30)), "from the start, once"
    assert any("started again from its saved settings" in e.get("detail", "") for e in events)
    assert "resumed: no checkpoint to resume from: started again from its saved settings" in result.stdout
    assert events[-1]["type"] == "Finished" and events[-1]["status"] == "done"


@pytest.mark.anyio
async def test_a_finished_run_answers_while_watched_and_its_trainer_ends_after(tmp_path):
    _, process, app = started_app(SMALL, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = screen_of(app)
        await wait_for(pilot, lambda: screen.status is RunStatus.FINISHED, what="finished")
        assert screen.controller.alive, "the trainer waits for its viewer"
        taken = len(screen.state.stats_history)
        await pilot.press("2", "r")
        await wait_for(pilot, lambda: len(screen.state.stats_history) > taken, what="r on the final model")
        tab_text = str(screen.query_one("#stats-table", Static).render())
        assert "conv1" in tab_text
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert process.wait(30) == 0, "the last viewer gone, the trainer ends"


@pytest.mark.anyio
async def test_divergence_holds_the_network_for_the_viewer_then_exits_3(tmp_path):
    session, process, app = started_app(LONG.with_(lr=1e4, optimizer="sgd", schedule="constant"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = screen_of(app)
        await wait_for(pilot, lambda: getattr(screen.state, "last_alert", None) is not None, what="the alert")
        assert screen.state.last_alert.message.startswith("training diverged at epoch")
        await wait_for(pilot, lambda: screen.status is RunStatus.PAUSED, what="held paused")
        await pilot.press("q", "s")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=30, what="left")
    assert app.return_code == 3
    assert process.wait(30) == 3
    assert not list(session.run.checkpoints.glob("*.pdparams"))


@pytest.mark.parametrize("after_s", [0.0, 1.0])
def test_a_stop_while_paddle_loads_ends_the_run_as_stopped_not_crashed(tmp_path, after_s):
    session = Session.new(SMALL, tmp_path)
    process = start(session.run.path)
    time.sleep(after_s)  # the moment of the signal is the point of this test: before and during Paddle's import
    process.terminate()
    assert process.wait(120) == 130
    watcher = RunController(session.run.path)
    watcher.poll()
    assert watcher.status is RunStatus.STOPPED


@pytest.mark.anyio
async def test_a_diverged_run_held_for_a_viewer_ends_when_the_viewer_leaves(tmp_path):
    _, process, app = started_app(LONG.with_(lr=1e4, optimizer="sgd", schedule="constant"), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = screen_of(app)
        await wait_for(pilot, lambda: screen.status is RunStatus.PAUSED and screen.state.last_alert is not None,
                       what="held paused")
        await pilot.press("q", "b")  # leave it "in the background": nobody is watching any more
        await wait_for(pilot, lambda: app.return_code is not None, what="left")
    assert process.wait(30) == 3, "the hold ends with its last viewer"
