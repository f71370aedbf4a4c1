"""Data parallelism on Paddle's own engine: N ranks of `paddle.DataParallel` over
`paddle.distributed` (gloo on CPUs, NCCL on GPUs), one process per rank.

A process is a rank when its environment says so, as `python -m paddle.distributed.launch` sets
it (PADDLE_TRAINER_ID, PADDLE_TRAINERS_NUM, PADDLE_MASTER, ...), on one machine or many. For
`--nproc N` on one machine, the run's own process is rank 0 and starts ranks 1..N-1 with that same
environment (`start_local_ranks`): rank 0 must be the process that owns the run folder (its lock,
event log and control channel), which `paddle.distributed.spawn`'s waiting parent is not. Those
ranks die with rank 0, however it ends (host/rank_main.py, their main): left alone they would wait in gloo.

Each rank takes a fixed share of every global batch (rows [r*B/N, (r+1)*B/N)), so a run with the
same seed and N repeats bit for bit. Before each batch rank 0 broadcasts one control word over a
CPU (gloo) group, so pause, validation and stop reach every rank at the same batch; while it works
alone (paused, validating) it broadcasts HOLD every second, so no rank waits in a collective long
enough for gloo to time out.

Gradients are averaged by `fused_allreduce_gradients` (Paddle's own, for DataParallel under
`no_sync`) called from Python rather than by DataParallel's backward hooks: when a rank dies, the
collective then raises in rank 0, which checkpoints and ends the run, where the hooks abort the
whole process (gloo's error is thrown inside the backward pass: `terminate`, SIGABRT). Two other
ways, measured by the benchmark and chosen with GRADIENT_SYNC_ENV, are off by default
(BENCHMARKS.md, "Speed levers on the ranks engine"): `overlap` (GradientOverlap) and `buckets`
(DataParallel's own bucketed all-reduce in its backward hooks; on the CPU gloo runs each bucket's
all-reduce in the backward pass's own thread, and a lost rank aborts every process).

Paddle is imported where it is used: the command line asks `environment()` before it loads Paddle.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mnist_tui.run.folder import open_for_writing

# Control words, rank 0 to the others, one or more before each batch.
STEP, STEP_AND_FETCH, HOLD, FETCH, END = range(5)
HOLD_EVERY_S = 1.0
MAX_AUTO_RANKS = 4
GRADIENT_SYNC_ENV = "MNIST_TUI_GRADIENT_SYNC"  # how gradients are averaged: one of GRADIENT_SYNCS
AFTER_BACKWARD, OVERLAP, BUCKETS = GRADIENT_SYNCS = ("after", "overlap", "buckets")
RANK_MAIN = "mnist_tui.host.rank_main"  # what a rank started here runs (python -m): it follows rank 0


class RankLost(RuntimeError):
    """A collective failed: a rank died or stopped answering."""


class RanksDidNotStart(RuntimeError):
    """A rank died before the ranks were linked; the message names it in our words."""


def environment() -> tuple[int, int]:
    """(rank, number of ranks) as paddle.distributed.launch or start_local_ranks set them."""
    world = int(os.environ.get("PADDLE_TRAINERS_NUM", "1") or 1)
    return (int(os.environ.get("PADDLE_TRAINER_ID", "0") or 0), world) if world > 1 else (0, 1)


def auto_nproc(device: str) -> int:
    """One rank per core on the CPU (at most MAX_AUTO_RANKS), one per visible GPU."""
    if device.startswith("gpu"):
        import paddle

        return max(1, paddle.device.cuda.device_count())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTO_RANKS))


def gradient_sync() -> str:
    """How this rank averages gradients (GRADIENT_SYNC_ENV; `after` the backward pass by default).
    Every rank must use the same: the ranks started here inherit rank 0's environment."""
    found = os.environ.get(GRADIENT_SYNC_ENV, "") or AFTER_BACKWARD
    if found not in GRADIENT_SYNCS:
        raise ValueError(f"{GRADIENT_SYNC_ENV}={found!r}: one of {', '.join(GRADIENT_SYNCS)}")
    return found


def first_layer(parameters: list) -> list:
    """The parameters of the model's first layer ("conv2d_0.w_0" and "conv2d_0.b_0"): their
    gradients come last in the backward pass."""
    layer = parameters[0].name.rpartition(".")[0]
    return [p for p in parameters if p.name.rpartition(".")[0] == layer]


def data_parallel(model):
    """`paddle.DataParallel(model)`, with the `buckets` gradient sync its buckets cut by `last_bucket_mb`."""
    import paddle

    if gradient_sync() != BUCKETS:
        return paddle.DataParallel(model)
    return paddle.DataParallel(model, last_comm_buffer_size=last_bucket_mb(model.parameters()))


def last_bucket_mb(parameters) -> float:
    """DataParallel's `last_comm_buffer_size` that puts exactly the first layer's parameters in the
    last bucket (all-reduced at the end of the backward pass) and the others before it (all-reduced
    as soon as their gradients are in): a bucket closes once its bytes reach the limit, and the
    last one is filled first, from the model's first parameters."""
    return sum(int(p.size) * p.element_size() for p in first_layer(list(parameters))) / 2**20


def share(rows: int, rank: int, world: int) -> tuple[int, int]:
    """This rank's rows of a batch of `rows`: [rank*rows//world, (rank+1)*rows//world)."""
    return rank * rows // world, (rank + 1) * rows // world


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_environments(world: int, gpus: list[int] | None = None) -> list[dict[str, str]]:
    """The environment of each of `world` ranks on this machine, as paddle.distributed.launch sets it."""
    endpoints = [f"127.0.0.1:{_free_port()}" for _ in range(world)]

    def env(rank: int) -> dict:
        found = {"PADDLE_TRAINER_ID": str(rank), "PADDLE_TRAINERS_NUM": str(world),
                 "PADDLE_TRAINER_ENDPOINTS": ",".join(endpoints), "PADDLE_CURRENT_ENDPOINT": endpoints[rank],
                 "PADDLE_MASTER": endpoints[0], "PADDLE_DISTRI_BACKEND": "nccl" if gpus else "gloo"}
        if gpus:
            found["FLAGS_selected_gpus"] = str(gpus[rank])
        elif rank and "OMP_NUM_THREADS" not in os.environ:  # one core each: no OpenMP threads crowding it
            found["OMP_NUM_THREADS"] = "1"
        return found

    return [env(rank) for rank in range(world)]


def start_local_ranks(world: int, run_path: Path, gpus: list[int] | None = None) -> list[subprocess.Popen]:
    """Make this process rank 0 of `world` and start ranks 1..world-1 (`python -m mnist_tui.host.rank_main
    RUN_DIR RANK0_PID READY_FD`, reading the run's settings), each logging to `rank-N.log` in the run
    folder, each with a pipe on which it says it is ready (`ready`, read by `wait_until_ready`)."""
    first, *others = local_environments(world, gpus)
    children = []
    os.environ.update(first)
    for rank, env in enumerate(others, start=1):
        ready, tell_ready = os.pipe()
        with os.fdopen(open_for_writing(run_path / f"rank-{rank}.log"), "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", RANK_MAIN, str(run_path), str(os.getpid()),
                                      str(tell_ready)], env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, pass_fds=(tell_ready,))
        os.close(tell_ready)
        child.ready = ready  # read end: a byte, or end of file when the rank is gone
        children.append(child)
    return children


def wait_until_ready(children: list[subprocess.Popen]) -> None:
    """Rank 0, before the rendezvous: wait until every rank started here is about to join it.
    Paddle's rendezvous (TCPStore::waitWorkers) waits for every rank with no end and without
    letting any other Python thread run, so a rank that died loading would leave rank 0 there
    for good; here a dead rank raises RanksDidNotStart instead."""
    waiting = {child.ready: child for child in children if getattr(child, "ready", None) is not None}
    while waiting:
        readable, _, _ = select.select(list(waiting), [], [], 0.5)
        for fd in readable:
            said = os.read(fd, 1)
            os.close(fd)
            child = waiting.pop(fd)
            child.ready = None
            if not said:  # end of file: it died before saying so
                raise RanksDidNotStart(child_lost(children, wait_s=3.0) or "a rank is gone")
        lost = child_lost(children)
        if lost:
            raise RanksDidNotStart(lost)


def leave_ranks() -> None:
    """This process is no rank any more (its run has ended): forget the environment that made it one."""
    for key in ("PADDLE_TRAINER_ID", "PADDLE_TRAINERS_NUM", "PADDLE_TRAINER_ENDPOINTS", "PADDLE_CURRENT_ENDPOINT",
                "PADDLE_MASTER", "PADDLE_DISTRI_BACKEND", "FLAGS_selected_gpus"):
        os.environ.pop(key, None)


def to_host(state):
    """A checkpoint's nested state with every tensor as a numpy array, so it pickles for
    `broadcast_object_list` (set_state_dict takes arrays)."""
    import paddle

    if isinstance(state, dict):
        return {key: to_host(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(to_host(value) for value in state)
    return state.numpy() if isinstance(state, paddle.Tensor) else state


def lost_rank_message(error: BaseException, children: list[subprocess.Popen] | None = None,
                      wait_s: float = 3.0) -> str:
    """Which rank went away, in our words, from the local children or gloo's "pair_rank = 1"; gloo's
    own text is for run.log. A killed rank's sockets close before its parent can reap it, so gloo
    may raise first: a child is given `wait_s` to show up as gone."""
    found = child_lost(children or [], wait_s)
    if found:
        return found
    found = re.search(r"pair_rank = (\d+)", str(error))
    if found:
        return f"rank {found.group(1)} stopped answering"
    return "a rank stopped answering (gloo's message is in run.log)"


def child_lost(children: list[subprocess.Popen], wait_s: float = 0.0) -> str | None:
    """"rank N is gone (killed by signal 9)" or "... stopped answering (its process is stopped)" for
    the first of the ranks started here that is, waiting up to `wait_s` for one; None if none is."""
    deadline = time.monotonic() + wait_s
    while True:
        for rank, child in enumerate(children, start=1):
            code = child.poll()
            if code is not None:
                how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
                return f"rank {rank} is gone ({how})"
        for rank, child in enumerate(children, start=1):
            if _process_state(child.pid) == "T":
                return f"rank {rank} stopped answering (its process is stopped)"
        if not children or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def _process_state(pid: int) -> str:
    """The state letter Linux shows for a process ("R", "S", "T" for stopped), "" if unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


class Link:
    """Rank 0's control words to the other ranks and the sums of the batch metrics, on a CPU group."""

    def __init__(self, rank: int, world: int, on_gpu: bool) -> None:
        import paddle
        import paddle.distributed as dist

        self.paddle, self.dist = paddle, dist
        self.rank, self.world = rank, world
        # Control words stay on the host: on GPUs they go through a gloo group of their own, so
        # reading one is no device sync.
        self.group = dist.new_group(list(range(world)), backend="gloo") if on_gpu else None
        self._last_told = time.monotonic()
        self.overlap: GradientOverlap | None = None
        self.sync = gradient_sync()  # read once: every step asks it

    def _collective(self, fn, *args):
        try:
            return fn(*args)
        except RuntimeError as exc:
            raise RankLost(str(exc)) from exc

    def tell(self, word: int) -> None:
        """Rank 0: broadcast a control word."""
        self._collective(self.dist.broadcast, self.paddle.to_tensor([word], dtype="int64", place=self.paddle.CPUPlace()), 0, self.group)
        self._last_told = time.monotonic()

    def hold(self) -> None:
        """Rank 0, working alone: keep the others waiting without letting them time out."""
        if self.world > 1 and time.monotonic() - self._last_told >= HOLD_EVERY_S:
            self.tell(HOLD)

    def listen(self) -> int:
        """The other ranks: the next control word."""
        word = self.paddle.to_tensor([0], dtype="int64", place=self.paddle.CPUPlace())
        self._collective(self.dist.broadcast, word, 0, self.group)
        return int(word.numpy()[0])

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Element-wise sum over the ranks of a small host array."""
        tensor = self.paddle.to_tensor(values, place=self.paddle.CPUPlace())
        self._collective(self.dist.all_reduce, tensor, self.dist.ReduceOp.SUM, self.group)
        return tensor.numpy()

    def average_gradients(self, parameters) -> None:
        """After the backward pass: every gradient averaged over the ranks. With the `overlap`
        gradient sync, from the second step on only the first layer's are left to do here: the
        others were sent while its backward ran (GradientOverlap)."""
        from paddle.distributed.fleet.utils.hybrid_parallel_util import fused_allreduce_gradients

        parameters = list(parameters)
        if self.overlap is None:
            self._collective(fused_allreduce_gradients, parameters, None)
            if self.sync == OVERLAP:
                self.overlap = GradientOverlap(parameters, self._collective)
            return
        self.overlap.finish()

    def share_state(self, state):
        """Rank 0's object (a resumed run's checkpoint) to every rank."""
        box = [state]
        self._collective(self.dist.broadcast_object_list, box, 0)
        return box[0]


class GradientOverlap:
    """The gradient all-reduce overlapped with the backward pass, from Python: once every layer's
    gradient but the first layer's is in (a hook on each parameter), a thread of our own sends them
    while the backward pass computes the first layer's; `finish` then waits for it and sends the
    first layer's. DataParallel's own hooks would do this inside the backward pass, but abort the
    process when a rank dies; here a failed collective raises RankLost in the training thread.
    The sums are the same as one fused all-reduce's, element by element.

    Assumes each parameter gets its gradient once per backward pass (no layer used twice), and
    that every backward pass is followed by `finish` on every rank (the collectives must match)."""

    def __init__(self, parameters: list, collective) -> None:
        import queue
        import threading

        self.collective = collective
        self.late = first_layer(parameters)
        self.early = [p for p in parameters if all(p is not q for q in self.late)]
        self.ready = 0
        self.sent: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        threading.Thread(target=self._send, name="gradient all-reduce", daemon=True).start()
        for p in self.early:
            p._register_backward_hook(self._on_gradient)

    def _on_gradient(self, *_) -> None:
        self.ready += 1
        if self.ready == len(self.early):
            self.sent.put(self.early)

    def _send(self) -> None:
        import paddle
        from paddle.distributed.fleet.utils.hybrid_parallel_util import fused_allreduce_gradients

        paddle.disable_static()  # dygraph mode is per thread
        while True:
            parameters = self.sent.get()
            try:
                self.collective(fused_allreduce_gradients, parameters, None)
                self.done.put(None)
            except RankLost as lost:
                self.done.put(lost)

    def finish(self) -> None:
        """The early gradients' all-reduce (already under way) and then the first layer's."""
        from paddle.distributed.fleet.utils.hybrid_parallel_util import fused_allreduce_gradients

        if self.ready != len(self.early):
            raise RuntimeError(f"{self.ready} of {len(self.early)} gradients arrived: the overlap cannot pair up")
        self.ready = 0
        failed = self.done.get()
        if failed is not None:
            raise failed
        self.collective(fused_allreduce_gradients, self.late, None)

