"""The run folder's control channel and event tail: owner-only, live or gone, whole lines only."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from helpers import wait_until
from scripted import ScriptedTrainer, fixed_events

from mnist_tui.host.headless import Controls
from mnist_tui.run import events as ev
from mnist_tui.run.control import (
    SOCKET,
    ControlClient,
    ControlError,
    ControlServer,
    _read_line,
    hold_trainer_lock,
    trainer_alive,
)
from mnist_tui.run.folder import RESERVE, EventLog, EventTail, RunDir
from mnist_tui.run.live import LiveRun


def test_socket_is_owner_only_and_answers_its_owner(tmp_path):
    trainer = ScriptedTrainer(tmp_path, fixed_events())
    mode = os.stat(trainer.path / SOCKET).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    client = ControlClient(trainer.path)
    client.send("toggle_pause")
    with pytest.raises(ValueError):
        client.send("rm -rf")
    assert trainer.commands == ["toggle_pause"]
    trainer.exit()
    assert not (trainer.path / SOCKET).exists()
    with pytest.raises(ControlError):
        client.send("toggle_pause")


def _connect_as(uid: int, path) -> str:
    """Fork, drop to `uid`, try the socket; the child's outcome comes back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(uid)
            client = ControlClient(path)
            try:
                client.send("stop")
                outcome = "accepted"
            except ControlError as exc:
                outcome = f"refused: {exc}"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            outcome = f"child failed: {exc!r}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        return pipe.read()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching uid needs root")
def test_another_user_is_refused_by_the_file_mode_and_by_the_peer_check():
    # A folder the other user can reach (pytest's own are 0700): only the socket's guards remain.
    root = Path(tempfile.mkdtemp(prefix="mnist-tui-"))
    root.chmod(0o755)
    trainer = ScriptedTrainer(root, fixed_events())
    trainer.path.chmod(0o755)
    outcome = _connect_as(65534, trainer.path)
    assert outcome.startswith("refused") and "Permission denied" in outcome, outcome
    os.chmod(trainer.path / SOCKET, 0o666)  # with the file mode opened up, the peer check still refuses
    outcome = _connect_as(65534, trainer.path)
    assert outcome.startswith("refused") and "another user" in outcome, outcome
    assert trainer.commands == []
    trainer.exit()
    shutil.rmtree(root)


def test_long_folder_paths_still_reach_the_socket(tmp_path):
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    trainer = ScriptedTrainer(deep, fixed_events())
    assert len(str(trainer.path / SOCKET)) > 108
    ControlClient(trainer.path).send("request_checkpoint")
    assert trainer.commands == ["request_checkpoint"]
    trainer.exit()


def test_trainer_lock_tells_live_from_gone(tmp_path):
    assert not trainer_alive(tmp_path)
    lock = hold_trainer_lock(tmp_path)
    assert trainer_alive(tmp_path)
    with pytest.raises(ControlError):
        hold_trainer_lock(tmp_path)  # one trainer per run
    lock.close()
    assert not trainer_alive(tmp_path)


def test_event_tail_reads_whole_lines_and_starts_over_on_a_rewrite(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.read() == ([], False)
    log = EventLog(path)
    log(ev.StatusChanged("running"))
    with open(path, "a") as f:
        f.write('{"type": "StatusCha')  # a line being written
    events, restarted = tail.read()
    assert [e.status for e in events] == ["running"] and not restarted
    with open(path, "a") as f:
        f.write('nged", "status": "paused"}\n')
    assert [e.status for e in tail.read()[0]] == ["paused"]
    from mnist_tui.run.folder import atomic_write_text

    atomic_write_text(path, "")  # as a resume rewrites the log
    assert tail.read() == ([], True)


def test_a_control_the_target_refuses_is_answered_and_the_channel_stays_up(tmp_path):
    """E.g. `r` while Paddle is still loading: headless's Controls refuse it with the reason."""
    controls = Controls()
    server = ControlServer(tmp_path, controls).start()
    client = ControlClient(tmp_path)
    with pytest.raises(ControlError, match="training is starting"):
        client.send("request_layer_stats")
    client.send("stop")  # kept for when the trainer exists
    stopped = []
    controls.attach(type("T", (), {"stop": lambda self: stopped.append(True)})())
    assert stopped == [True]
    server.close()


def test_snapshot_takes_a_layer_name_and_nothing_else_takes_an_argument(tmp_path):
    asked = []

    class Target:
        def request_snapshot(self, layer: str = "") -> None:
            if layer == "nope":
                raise ValueError("no convolution or linear layer named 'nope'")
            asked.append(layer)

        def stop(self) -> None:
            asked.append("stop")

    server = ControlServer(tmp_path, Target()).start()
    client = ControlClient(tmp_path)
    client.send("request_snapshot")
    client.send("request_snapshot", "features.3")
    with pytest.raises(ControlError, match="no convolution or linear layer named 'nope'"):
        client.send("request_snapshot", "nope")
    with pytest.raises(ValueError):
        client.send("stop", "now")  # refused before it is sent
    client._sock.sendall(b"stop now\n")  # and by the trainer, if a client sends it anyway
    assert _read_line(client._sock) == "error: unknown command 'stop'"
    assert asked == ["", "features.3"]
    client.close()
    server.close()


def test_a_control_sock_leading_to_another_runs_trainer_is_refused(tmp_path):
    ours = ScriptedTrainer(tmp_path, fixed_events(), name="ours")
    other = ScriptedTrainer(tmp_path, fixed_events(), name="other")
    (ours.path / SOCKET).unlink()
    (ours.path / SOCKET).symlink_to(other.path / SOCKET)  # keys in a viewer of ours would steer the other run
    with pytest.raises(ControlError, match="control.sock leads to another run's trainer: refused"):
        ControlClient(ours.path).send("toggle_pause")
    assert other.commands == []
    ControlClient(other.path).send("toggle_pause")  # its own viewers still reach it
    assert other.commands == ["toggle_pause"]
    ours.exit()
    other.exit()


class Blocking:
    """A trainer that takes its time over a checkpoint, as one stopped by the OS does over anything."""

    def __init__(self) -> None:
        self.busy, self.release = threading.Event(), threading.Event()
        self.done: list[str] = []

    def request_checkpoint(self) -> None:
        self.busy.set()
        self.release.wait(20)
        self.done.append("request_checkpoint")

    def toggle_pause(self) -> None:
        self.done.append("toggle_pause")


def test_a_slow_answer_is_waited_for_and_said_to_be_pending(tmp_path):
    target = Blocking()
    lock = hold_trainer_lock(tmp_path)
    server = ControlServer(tmp_path, target).start()
    pending, outcome = threading.Event(), []
    client = ControlClient(tmp_path)
    sender = threading.Thread(target=lambda: outcome.append(client.send("request_checkpoint", waiting=pending.set)))
    sender.start()
    assert pending.wait(10), "the sender is told the answer is late"
    assert sender.is_alive() and target.done == []
    target.release.set()
    sender.join(10)
    assert outcome == [None] and target.done == ["request_checkpoint"]  # carried out, and the sender knows it
    client.close()
    server.close()
    lock.close()


def test_commands_of_a_client_that_hung_up_are_not_carried_out(tmp_path):
    target = Blocking()
    server = ControlServer(tmp_path, target).start()
    quitter = socket.socket(socket.AF_UNIX)
    quitter.connect(str(tmp_path / SOCKET))
    assert _read_line(quitter).startswith("hello ")
    busy = socket.socket(socket.AF_UNIX)
    busy.connect(str(tmp_path / SOCKET))
    _read_line(busy)
    busy.sendall(b"request_checkpoint\n")  # the server is busy with it...
    assert target.busy.wait(10)
    quitter.sendall(b"toggle_pause\n")  # ...when this comes, and its sender gives up
    quitter.close()
    target.release.set()
    busy.settimeout(10)
    assert _read_line(busy) == "ok"
    busy.sendall(b"toggle_pause\n")
    assert _read_line(busy) == "ok"
    assert target.done == ["request_checkpoint", "toggle_pause"]  # the quitter's toggle never happened
    busy.close()
    server.close()


class Nothing:
    """A control target with no commands: the tests below only need the channel up."""


def test_a_live_run_gives_back_its_channel_sinks_and_log_before_its_lock(tmp_path):
    seen = {}

    class Sink(list):
        def __call__(self, event) -> None:
            self.append(event)

        def close(self) -> None:  # between the channel and the log
            seen.update(alive=trainer_alive(tmp_path), channel=(tmp_path / SOCKET).exists())

    sink = Sink()
    with LiveRun(RunDir(tmp_path)).hold_lock() as live:
        live.open_log()
        live.add_sink(sink, "sink")
        live.serve(Nothing())
        live.bus.emit(ev.Finished("done"))
        assert trainer_alive(tmp_path) and (tmp_path / SOCKET).exists()
    assert seen == {"alive": True, "channel": False} and not trainer_alive(tmp_path)
    assert [type(e) for e in sink] == [ev.Finished] and len(EventTail(tmp_path / "events.jsonl").read()[0]) == 1


def test_a_live_run_leaves_an_adopted_lock_to_its_owner(tmp_path):
    lock = hold_trainer_lock(tmp_path)
    with LiveRun(RunDir(tmp_path)).hold_lock(lock):
        pass
    assert trainer_alive(tmp_path)
    lock.close()
    assert not trainer_alive(tmp_path)


def test_a_sink_that_fails_to_close_leaves_the_log_closed_and_the_lock_released(tmp_path):
    class Sink:
        def __call__(self, event) -> None:
            pass

        def close(self) -> None:
            raise OSError("injected failure")

    live = LiveRun(RunDir(tmp_path)).hold_lock()
    live.open_log()
    live.add_sink(Sink(), "sink")
    live.bus.emit(ev.Finished("done"))
    with pytest.raises(OSError, match="injected"):  # our trainer: raised, after everything closed
        live.close()
    assert not (tmp_path / RESERVE).exists() and not trainer_alive(tmp_path)  # the log gave its reserve back
    assert len(EventTail(tmp_path / "events.jsonl").read()[0]) == 1


def test_a_failing_sink_raises_where_emitted_unless_the_live_run_has_a_failure_handler(tmp_path):
    def explode(_event) -> None:
        raise RuntimeError("injected failure")

    plain = LiveRun(RunDir(tmp_path))
    plain.add_sink(explode, "sink")
    with pytest.raises(RuntimeError):  # our trainer: its run ends as an error
        plain.bus.emit(ev.StatusChanged("running"))
    failures, received = [], []
    guarded = LiveRun(RunDir(tmp_path), on_failure=lambda part, trace: failures.append((part, trace)))
    guarded.add_sink(explode, "sink")
    guarded.add_sink(received.append, "other")
    guarded.bus.emit(ev.StatusChanged("running"))
    guarded.bus.emit(ev.StatusChanged("paused"))
    assert [part for part, _ in failures] == ["sink"] and "injected failure" in failures[0][1]  # once, then off
    assert [e.status for e in received] == ["running", "paused"]


def test_hold_while_watched_holds_while_a_viewer_is_attached(tmp_path):
    live = LiveRun(RunDir(tmp_path)).serve(Nothing())
    viewer = ControlClient(tmp_path)
    viewer.connect()
    wait_until(lambda: live.viewers == 1, "the viewer attached", now=lambda: live.viewers)
    looks, outcome = [], []
    holder = threading.Thread(target=lambda: outcome.append(live.hold_while_watched(
        until=lambda: False, each=lambda: looks.append(1), every=0.01)))
    holder.start()
    wait_until(lambda: len(looks) >= 3, "the holder looked while watched")
    assert holder.is_alive()
    viewer.close()
    holder.join(30)
    assert outcome == [True]  # nobody watches: let go
    assert live.hold_while_watched(until=lambda: True) is False  # told to stop first
    stop_at_third_look = iter([False, False, True])
    assert live.hold_while_watched(until=lambda: next(stop_at_third_look), holding=lambda: False,
                                   every=0.01) is False  # not holding (still training): nobody watching is no matter
    live.close()
