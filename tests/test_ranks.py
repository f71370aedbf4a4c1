"""Data parallel on Paddle's own engine (engine/ranks.py), for real, in subprocesses: every rank
is a process, as in use. Repeatable runs, controls that reach every rank, a killed rank, a
resume with another number of ranks, and a two-"node" launch on the loopback address."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

from mnist_tui.engine import ranks
from mnist_tui.engine.ranks import local_environments, lost_rank_message, share
from mnist_tui.run.control import ControlClient
from mnist_tui.run.index import summarise
from mnist_tui.run.status import RunStatus

SMALL = ["--epochs", "1", "--train-limit", "1280", "--val-limit", "256", "--test-limit", "256"]
CLI = [sys.executable, "-m", "mnist_tui"]


def events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def of(run: Path, kind: str) -> list[dict]:
    return [e for e in events(run) if e["type"] == kind]


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def headless(runs: Path, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "--headless", "--runs-dir", str(runs), *args], check=False, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_each_rank_takes_a_fixed_share_of_every_batch():
    assert [share(64, r, 2) for r in range(2)] == [(0, 32), (32, 64)]
    assert [share(10, r, 3) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]  # every row once


def test_local_ranks_share_one_master_and_each_have_an_endpoint(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    envs = local_environments(3)
    endpoints = envs[0]["PADDLE_TRAINER_ENDPOINTS"].split(",")
    assert [env["PADDLE_CURRENT_ENDPOINT"] for env in envs] == endpoints and len(set(endpoints)) == 3
    assert {env["PADDLE_MASTER"] for env in envs} == {endpoints[0]}
    assert [env["PADDLE_TRAINER_ID"] for env in envs] == ["0", "1", "2"]
    assert {env["PADDLE_DISTRI_BACKEND"] for env in envs} == {"gloo"}
    assert "OMP_NUM_THREADS" not in envs[0] and envs[1]["OMP_NUM_THREADS"] == "1"  # rank 0 is the caller
    on_gpus = local_environments(2, [3, 5])
    assert [env["FLAGS_selected_gpus"] for env in on_gpus] == ["3", "5"]
    assert {env["PADDLE_DISTRI_BACKEND"] for env in on_gpus} == {"nccl"}
    assert not any("OMP_NUM_THREADS" in env for env in on_gpus)


def test_a_lost_rank_is_named_from_gloos_message():
    error = RuntimeError("[gloo/transport/tcp/pair.cc:584] TIMEOUT self_rank = 0 pair_rank = 3 peer_str = x")
    assert lost_rank_message(error) == "rank 3 stopped answering"


def test_a_stalled_or_dead_rank_started_here_is_named_by_its_process():
    child = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(child.pid, signal.SIGSTOP)
        wait_until(lambda: Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] == "T",
             what="the process stopped")
        timeout = RuntimeError("unbound_buffer.cc:80 TIMEOUT self_rank = none pair_rank = -1")
        assert lost_rank_message(timeout, [child]) == "rank 1 stopped answering (its process is stopped)"
        child.kill()
        child.wait()
        assert lost_rank_message(timeout, [child]) == "rank 1 is gone (killed by signal 9)"
    finally:
        child.kill()


def test_a_rank_killed_just_before_gloo_raises_is_named_in_our_words():
    """gloo sees a killed rank's sockets close before the rank can be reaped: the message waits for it,
    and gloo's own text (its paths look like markup) stays out of the alert."""
    gloo = RuntimeError("[/paddle/third_party/gloo/gloo/transport/tcp/pair.cc:576] Connection closed by peer")
    child = subprocess.Popen([sys.executable, "-c", "import os, time; time.sleep(0.5); os.kill(os.getpid(), 9)"])
    try:
        assert lost_rank_message(gloo, [child]) == "rank 1 is gone (killed by signal 9)"
    finally:
        child.kill()
        child.wait()
    assert lost_rank_message(gloo, []) == "a rank stopped answering (gloo's message is in run.log)"


def test_two_processes_train_and_repeat_bit_for_bit(tmp_path):
    figures = []
    for attempt in ("a", "b"):
        done = headless(tmp_path / attempt, "--nproc", "2", *SMALL)
        assert done.returncode == 0, done.stdout + done.stderr
        run = only_run(tmp_path / attempt)
        (started,) = of(run, "RunStarted")
        assert started["ranks"] == 2 and "2 ranks" in started["device"] and "DataParallel over gloo" in started["device"]
        assert (run / "rank-1.log").exists()
        figures.append(([e["loss"] for e in of(run, "BatchMetrics")], [e["loss"] for e in of(run, "EvalResult")]))
        # Each rank's times reach rank 0 with the metrics: one report per validation, every rank in it.
        (times,) = of(run, "RankTimes")
        assert times["batches"] == 20 and len(times["step_ms"]) == len(times["allreduce_ms"]) == 2
        assert (times["epoch"], times["batch"], times["step"]) == (0, 19, 19)  # up to the last batch run
        assert all(0 < a < s for s, a in zip(times["step_ms"], times["allreduce_ms"]))
        assert "[ranks] ms a batch (in the all-reduce): 0: " in done.stdout
    assert figures[0] == figures[1]  # the same seed and N: every batch loss and validation loss to the last digit
    one = headless(tmp_path / "one", "--nproc", "1", *SMALL)
    assert one.returncode == 0
    assert not of(only_run(tmp_path / "one"), "RankTimes")  # one rank: nothing to compare
    batch_losses = [e["loss"] for e in of(only_run(tmp_path / "one"), "BatchMetrics")]
    # One rank sums the same gradient in another order: equal up to float rounding.
    assert batch_losses[0] == pytest.approx(figures[0][0][0], rel=1e-5)


def test_gradient_sync_is_after_the_backward_pass_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv(ranks.GRADIENT_SYNC_ENV, raising=False)
    assert ranks.gradient_sync() == ranks.AFTER_BACKWARD
    monkeypatch.setenv(ranks.GRADIENT_SYNC_ENV, ranks.BUCKETS)
    assert ranks.gradient_sync() == ranks.BUCKETS
    monkeypatch.setenv(ranks.GRADIENT_SYNC_ENV, "sometimes")
    with pytest.raises(ValueError, match="one of after, overlap, buckets"):
        ranks.gradient_sync()


def test_the_last_bucket_holds_exactly_the_first_layers_parameters():
    from paddle.base import core

    from mnist_tui.engine.model import MnistCNN

    parameters = MnistCNN().parameters()
    limits = [int(ranks.last_bucket_mb(parameters) * 2**20), 25 * 2**20]  # as DataParallel turns them into bytes
    # Bucket 0 is filled first and all-reduced last: conv1's weight and bias; the rest in one bucket.
    assert core.eager_assign_group_by_size(parameters, [False] * len(parameters), limits) == [[0, 1], [2, 3, 4, 5]]


def test_every_gradient_sync_trains_to_the_same_figures_to_the_last_digit(tmp_path):
    """The speed levers on the gradient all-reduce change when it runs, not what it sums."""
    figures = {}
    for how in ranks.GRADIENT_SYNCS:
        done = headless(tmp_path / how, "--nproc", "2", *SMALL, env={ranks.GRADIENT_SYNC_ENV: how})
        assert done.returncode == 0, done.stdout + done.stderr
        run = only_run(tmp_path / how)
        figures[how] = [(e["type"], e["loss"], e["acc"]) for e in events(run) if e["type"] in ("BatchMetrics", "EvalResult")]
    assert len(figures[ranks.AFTER_BACKWARD]) == 20 + 2  # every batch, the validation and the test
    assert figures[ranks.OVERLAP] == figures[ranks.AFTER_BACKWARD]
    assert figures[ranks.BUCKETS] == figures[ranks.AFTER_BACKWARD]


def test_pause_validate_and_stop_reach_every_rank(tmp_path):
    process = subprocess.Popen([*CLI, "--headless", "--runs-dir", str(tmp_path), "--nproc", "2", "--epochs", "50",
                                "--train-limit", "1280", "--val-limit", "256"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: any(tmp_path.iterdir()) and len(of(only_run(tmp_path), "BatchMetrics")) > 5, what="training")
        run = only_run(tmp_path)
        client = ControlClient(run)
        client.send("pause")
        wait_until(lambda: any(e["status"] == "paused" for e in of(run, "StatusChanged")), what="paused")
        steps = len(of(run, "BatchMetrics"))
        client.send("request_validation")  # served while paused, the other rank held in the meantime
        wait_until(lambda: len(of(run, "EvalResult")) >= 1, what="a validation while paused")
        assert len(of(run, "BatchMetrics")) == steps  # no rank ran ahead
        client.send("resume")
        wait_until(lambda: len(of(run, "BatchMetrics")) > steps + 5, what="training again")
        client.send("stop")
        assert process.wait(120) == 130
    finally:
        process.kill()
    assert of(run, "Finished")[-1]["status"] == "stopped"
    assert of(run, "CheckpointSaved")
    assert not [e for e in of(run, "Alert") if e["level"] == "error"]
    # Every batch is in exactly one report of the ranks' times: at the validation, and the rest at the stop.
    reported, batches = of(run, "RankTimes"), of(run, "BatchMetrics")
    assert len(reported) == 2 and sum(r["batches"] for r in reported) == len(batches)
    assert reported[-1]["step"] == batches[-1]["step"]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_a_killed_rank_ends_the_run_with_a_checkpoint_and_resume_goes_on_with_one(tmp_path):
    process = subprocess.Popen([*CLI, "--headless", "--runs-dir", str(tmp_path), "--nproc", "2", "--epochs", "2",
                                "--train-limit", "2560", "--val-limit", "256", "--test-limit", "256"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: any(tmp_path.iterdir()) and len(of(only_run(tmp_path), "BatchMetrics")) > 3, what="training")
        run = only_run(tmp_path)
        (rank1,) = _children(process.pid)
        os.kill(rank1, signal.SIGKILL)
        status = process.wait(120)  # hangs are caught here; the run measured ends within 2 s of the kill
    finally:
        process.kill()
    assert status == 130
    (alert,) = [e for e in of(run, "Alert") if e["level"] == "error"]
    assert alert["message"].startswith("rank 1 is gone (killed by signal 9)") and "gloo" not in alert["message"]
    assert "rank 1 is gone (killed by signal 9); gloo said: " in (run / "run.log").read_text()
    saved = of(run, "CheckpointSaved")[-1]
    assert of(run, "Finished")[-1]["status"] == "stopped"
    resumed = subprocess.run([*CLI, "--headless", "--resume", str(run), "--nproc", "1"], check=False, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert of(run, "Finished")[-1]["status"] == "done"
    steps = [e["step"] for e in of(run, "BatchMetrics")]
    assert steps == list(range(len(steps))) and len(steps) == 2 * 40  # no gap, no repeat around the kill
    assert steps.index(saved["step"]) == saved["step"]
    assert json.loads((run / "config.json").read_text())["config"]["nproc"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_the_loopback_address_write_one_run_folder(tmp_path):
    """What a two-machine run does (README), with both "machines" here: paddle.distributed.launch
    per node, our console script as the program; rank 0 owns the folder, rank 1 writes nothing."""
    script = Path(sys.executable).parent / "mnist-tui"
    master = f"127.0.0.1:{_free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", "--nnodes", "2", "--master", master,
                               "--nproc_per_node", "1", "--log_dir", str(tmp_path / f"log{node}"), str(script),
                               "--headless", "--runs-dir", str(tmp_path / f"runs{node}"), *SMALL],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for node in range(2)]
    try:
        codes = [node.wait(300) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    assert codes == [0, 0]
    folders = [p for node in range(2) if (tmp_path / f"runs{node}").exists()
               for p in (tmp_path / f"runs{node}").iterdir()]
    assert len(folders) == 1
    (run,) = folders
    assert of(run, "Finished")[-1]["status"] == "done"
    assert of(run, "RunStarted")[0]["ranks"] == 2
    assert summarise(run).status is RunStatus.FINISHED  # what `mnist-tui watch` and the runs table read


def test_a_run_stopped_and_resumed_on_two_ranks_ends_like_an_uninterrupted_one(tmp_path):
    """The checkpoint reaches the other rank from rank 0 (weights, optimizer moments, schedule)."""
    settings = ["--nproc", "2", "--epochs", "2", "--train-limit", "1280", "--val-limit", "256", "--test-limit", "256"]
    whole = headless(tmp_path / "whole", *settings)
    assert whole.returncode == 0
    process = subprocess.Popen([*CLI, "--headless", "--runs-dir", str(tmp_path / "cut"), *settings],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (tmp_path / "cut").exists() and any((tmp_path / "cut").iterdir())
             and len(of(only_run(tmp_path / "cut"), "BatchMetrics")) >= 5, what="training")
        ControlClient(only_run(tmp_path / "cut")).send("stop")
        assert process.wait(120) == 130
    finally:
        process.kill()
    run = only_run(tmp_path / "cut")
    stopped_at = of(run, "CheckpointSaved")[-1]["step"]
    assert 5 <= stopped_at < 40
    resumed = subprocess.run([*CLI, "--headless", "--resume", str(run)], check=False, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert of(run, "Finished")[-1]["status"] == "done"
    expected = [(e["split"], e["loss"]) for e in of(only_run(tmp_path / "whole"), "EvalResult")]
    assert [(e["split"], e["loss"]) for e in of(run, "EvalResult")] == expected


@pytest.mark.parametrize("moment", ["rank 1 starting", "mid-run"])
def test_the_other_ranks_die_with_rank_0_and_the_run_resumes(tmp_path, moment):
    """SIGKILL of rank 0 (nothing it can catch): rank 1, started with the signals rank 0 blocks at
    start-up blocked, used to live on in gloo for good. tests/rank0_kills.py does this at random moments."""
    from rank0_kills import kill_rank0

    def when(_elapsed, run):
        if run is None or not (run / "rank-1.log").exists():
            return False
        return moment == "rank 1 starting" or len(of(run, "BatchMetrics")) > 3

    outcome = kill_rank0(tmp_path / "runs", when)
    assert outcome.ranks_seen == 2, outcome
    assert outcome.left_after_s is not None, f"a rank outlived rank 0 by 30 s: {outcome}"
    assert outcome.resumed == "done", outcome


def test_a_rank_killed_while_the_ranks_start_ends_rank_0_in_our_words_and_resume_starts_again(tmp_path):
    """gloo's rendezvous waits for every rank with no end: rank 0 used to wait for good."""
    process = subprocess.Popen([*CLI, "--headless", "--runs-dir", str(tmp_path), *SMALL, "--nproc", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: list(tmp_path.glob("*/rank-1.log")), what="rank 1 started")
        run = only_run(tmp_path)
        (rank1,) = _children(process.pid)
        os.kill(rank1, signal.SIGKILL)  # long before it has loaded Paddle and joined the others
        status = process.wait(120)
    finally:
        process.kill()
    assert status == 1
    (alert,) = of(run, "Alert")
    assert alert["message"].startswith("rank 1 is gone (killed by signal 9) while the ranks were starting")
    assert not of(run, "Finished")  # no checkpoint yet: --resume starts it again
    assert "rank 1 is gone (killed by signal 9) while the ranks were starting" in (run / "run.log").read_text()
    resumed = subprocess.run([*CLI, "--headless", "--resume", str(run), "--nproc", "1"], check=False,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert of(run, "Finished")[-1]["status"] == "done"
