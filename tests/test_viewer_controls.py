"""A viewer's controls go through the controller's own thread: a key is answered "sent" at once,
then with the trainer's answer; a trainer slow to answer (busy, or stopped by the OS) leaves the
viewer usable and its command shown as pending, never carried out behind the user's back; a
control.sock that leads to another run's trainer is refused."""

from __future__ import annotations

import threading

import pytest
from helpers import notified, wait_for, wait_until
from scripted import ScriptedTrainer, fixed_events
from textual.widgets import Static, TabbedContent

from mnist_tui.run.control import SOCKET, ControlClient
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.screens.run_screen import RunScreen


@pytest.fixture
def anyio_backend():
    return "asyncio"


def header(app: MnistApp) -> str:
    return str(app.screen.query_one("#header", Static).render())


class Stuck(ScriptedTrainer):
    """Takes a checkpoint request and then answers nothing until released, as a trainer stopped
    by the OS (SIGSTOP) does; its control channel is all blocked meanwhile."""

    def __init__(self, *args, **kwargs) -> None:
        self.stuck, self.release = threading.Event(), threading.Event()
        super().__init__(*args, **kwargs)

    def request_checkpoint(self) -> None:
        self.stuck.set()
        self.release.wait(60)
        self.commands.append("request_checkpoint")


@pytest.mark.anyio
async def test_a_trainer_that_does_not_answer_never_blocks_the_viewer(tmp_path):
    trainer = Stuck(tmp_path, fixed_events())
    app = MnistApp(tmp_path, RunController(trainer.path))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
            await wait_for(pilot, lambda: screen.controller._client.connected, what="connected")
            await pilot.press("c")
            assert "Sent c (checkpoint)…" in notified(app)  # at once, before any answer
            await wait_for(pilot, lambda: "c pending" in header(app), what="shown as pending")
            assert "c (checkpoint) is pending" in notified(app) and trainer.stuck.is_set()
            tabs = screen.query_one(TabbedContent)
            for key, tab in (("2", "layers"), ("3", "validation"), ("1", "training")):  # the UI goes on
                await pilot.press(key)
                assert tabs.active == tab
            await pilot.press("p")  # one control at a time: this one is refused, not queued for later
            assert "has not answered the previous control yet" in notified(app)
            trainer.release.set()
            await wait_for(pilot, lambda: "Checkpoint at the next batch…" in notified(app), what="the answer")
            await wait_for(pilot, lambda: "pending" not in header(app), what="no longer pending")
            assert "did not take it" not in notified(app)
            assert trainer.commands == ["request_checkpoint"]  # the refused p was never carried out
            await pilot.press("p")
            await wait_for(pilot, lambda: trainer.commands[-1:] == ["toggle_pause"], what="controls work again")
    finally:
        trainer.release.set()
        trainer.exit()


@pytest.mark.anyio
async def test_a_control_sock_leading_to_another_run_turns_the_controls_off(tmp_path):
    ours = ScriptedTrainer(tmp_path, fixed_events(), name="ours")
    other = ScriptedTrainer(tmp_path, fixed_events(), name="other")
    (ours.path / SOCKET).unlink()
    (ours.path / SOCKET).symlink_to(other.path / SOCKET)
    app = MnistApp(tmp_path, RunController(ours.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Controls are off: control.sock leads to another run's trainer" in notified(app),
                       what="one line saying so")
        await pilot.press("p")
        await wait_for(pilot, lambda: "did not take it: control.sock leads to another run's trainer" in notified(app),
                       what="p refused")
    assert other.commands == []
    ours.exit()
    other.exit()



def test_a_viewer_closed_while_it_connects_leaves_no_channel_open(tmp_path, monkeypatch):
    """A trainer holding for its viewers must see this one go, even if the viewer closed while its
    control thread was connecting (the trainer would otherwise wait for a viewer that has left)."""
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    closing: list[RunController] = []
    client_connect = ControlClient.connect

    def connect_then_close(client) -> None:
        client_connect(client)
        # The trainer counts this viewer first, so that its count back at 0 below shows the channel closed.
        wait_until(lambda: trainer.live.viewers == 1, "the trainer counting the viewer")
        closing[0]._closed.set()  # the viewer closes during the connect, as close() does

    monkeypatch.setattr(ControlClient, "connect", connect_then_close)
    controller = RunController.__new__(RunController)
    closing.append(controller)
    try:
        RunController.__init__(controller, trainer.path)
        wait_until(lambda: controller._closed.is_set() and trainer.live.viewers == 0,
                   "the closed viewer's channel closed", now=lambda: (controller._closed.is_set(), trainer.live.viewers))
    finally:
        controller.close()
        trainer.exit()
