"""Benchmark: the course's loop vs our engine vs our engine under the app, side by side in one run.

    python -m tools.bench [--quick]
    python -m tools.bench --levers-only --images 3200 --repeats 5   # the engine's speed levers alone

Contenders alternate and repeat, so a noisy shared machine hits them alike; only ratios are
compared (each speed lever against its base, round by round). Then what one gradient all-reduce costs two ranks here, and the viewer's own figures: key
latency, first frame, UI CPU, a finished run's history loaded by the app, the runs index over 50
runs, memory. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_tui.engine import ranks
from mnist_tui.engine.data import Mnist, load_mnist
from mnist_tui.run.config import TrainConfig

BATCH = 64
REPO = Path(__file__).resolve().parent.parent  # `-m tools.bench` is found from here


def course_loop(data: Mnist, images: int, to_static: bool = False) -> float:
    """The course's training loop, as written there: numpy batches from a Python generator,
    paddle.to_tensor per batch, accuracy inside forward, a .numpy() log line every 200 batches."""
    import paddle
    import paddle.nn.functional as F
    from paddle.nn import Conv2D, Linear, MaxPool2D

    class CourseMNIST(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(1, 20, 5, stride=1, padding=2)
            self.max_pool1 = MaxPool2D(kernel_size=2, stride=2)
            self.conv2 = Conv2D(20, 20, 5, stride=1, padding=2)
            self.max_pool2 = MaxPool2D(kernel_size=2, stride=2)
            self.fc = Linear(980, 10)

        def forward(self, inputs, label):
            x = self.max_pool1(F.relu(self.conv1(inputs)))
            x = self.max_pool2(F.relu(self.conv2(x)))
            x = paddle.reshape(x, [x.shape[0], 980])
            x = self.fc(x)
            acc = paddle.metric.accuracy(input=F.softmax(x), label=label)
            return x, acc

    def load_data(images_np, labels_np):
        index = list(range(len(labels_np)))
        np.random.shuffle(index)

        def generator():
            imgs, labels = [], []
            for i in index:
                imgs.append(images_np[i])
                labels.append(labels_np[i : i + 1])
                if len(imgs) == BATCH:
                    yield np.array(imgs), np.array(labels)
                    imgs, labels = [], []

        return generator

    paddle.seed(0)
    model = CourseMNIST()
    model.train()
    opt = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())
    n = images // BATCH * BATCH
    loader = load_data(data.train.images[:n], data.train.labels[:n])
    start = time.perf_counter()
    for batch_id, (imgs, labels) in enumerate(loader()):
        imgs, labels = paddle.to_tensor(imgs), paddle.to_tensor(labels)
        predicts, acc = model(imgs, labels)
        loss = paddle.mean(F.cross_entropy(predicts, labels))
        if batch_id % 200 == 0:
            print(f"  course batch {batch_id}: loss {float(loss.numpy()):.4f}, acc {float(acc.numpy()):.4f}",
                  file=sys.stderr)
        loss.backward()
        opt.step()
        opt.clear_grad()
    return n / (time.perf_counter() - start)


def bench_config(images: int, **changes) -> TrainConfig:
    return TrainConfig(epochs=1, batch_size=BATCH, train_limit=images, val_limit=BATCH, test_limit=BATCH,
                       train_eval_limit=BATCH, checkpoint_every_epoch=False, lr=0.001, schedule="constant", shift=0,
                       **changes)


def engine_run(data: Mnist, images: int, env: dict[str, str] | None = None, **changes) -> float:
    """Our engine, headless, in a process of its own (as in use: a process is one rank, and starts
    the others), one epoch over `images` images; returns images per second, measured from its run
    folder's event log exactly as for `app_run`. `data` is read again there from the bundled copy.
    `env`: added to that process's environment (and so its ranks'), for levers set there."""
    with tempfile.TemporaryDirectory() as runs:
        config = json.dumps(bench_config(images, **changes).to_dict())
        subprocess.run([sys.executable, "-m", "tools.bench", "--engine-once", config, runs], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        (events,) = Path(runs).glob("*/events.jsonl")
        return events_throughput(events)


def engine_once(config: str, runs: str) -> int:
    """One engine run with these settings (engine_run's process)."""
    from mnist_tui.engine.session import Session
    from mnist_tui.host.headless import run_headless

    session = Session.new(TrainConfig.from_dict(json.loads(config)), runs, data=load_mnist())
    with open(os.devnull, "w") as quiet:
        return run_headless(session, out=quiet)


def events_throughput(events_path: Path) -> float:
    """Images per second: BatchMetrics lines times the batch size, over the time between the
    engine's RunStarted and Finished events, both read from the `time` field the event log stamps
    on each line (wall clock, to the millisecond). One clock for the engine in this process and for
    the app's trainer in another; set-up, Paddle's import and loading the data come before
    RunStarted, so they are excluded for both."""
    from mnist_tui.run.folder import read_events

    events = read_events(events_path)
    times = {e["type"]: e["time"] for e in events if e["type"] in ("RunStarted", "Finished")}
    batches = sum(e["type"] == "BatchMetrics" for e in events)
    return batches * BATCH / (times["Finished"] - times["RunStarted"])


COLLECTIVE_GAPS_MS = (0, 5, 35)  # busy time before each all-reduce; 35 is about a rank's step of 32 images


def collective_latency() -> dict:
    """What one gradient all-reduce costs two ranks on this machine, over gloo as the engine uses it:
    median milliseconds for the course network's gradient (one flat float32 tensor), right after
    the previous one and after each rank has kept its core busy for a while, as training does."""
    with tempfile.TemporaryDirectory() as logs:
        probes = []
        try:
            for rank, env in enumerate(ranks.local_environments(2)):
                with open(Path(logs) / f"rank-{rank}.log", "w") as log:
                    probes.append(subprocess.Popen([sys.executable, "-m", "tools.bench", "--collective-probe"], cwd=REPO,
                                                   env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
                                                   stdout=subprocess.PIPE, stderr=log, text=True))
            out = [probe.communicate(timeout=300)[0] for probe in probes]
        finally:
            for probe in probes:  # one failed or hangs: the other would wait for it in a collective
                if probe.poll() is None:
                    probe.kill()
                    probe.wait()
        if any(probe.returncode for probe in probes):
            tail = (Path(logs) / "rank-0.log").read_text().strip().splitlines()[-3:]
            raise RuntimeError("the collective probe failed: " + " / ".join(tail))
    return json.loads(out[0].strip().splitlines()[-1])


def collective_probe() -> int:
    """One rank of collective_latency (the environment makes it one)."""
    import paddle
    import paddle.distributed as dist

    from mnist_tui.engine.model import MnistCNN

    dist.init_parallel_env()
    gradient = paddle.zeros([sum(int(p.size) for p in MnistCNN().parameters())])
    figures = {}
    for gap_ms in COLLECTIVE_GAPS_MS:
        times = []
        for i in range(45):
            busy_until = time.perf_counter() + gap_ms / 1000
            while time.perf_counter() < busy_until:
                pass
            begin = time.perf_counter()
            dist.all_reduce(gradient)
            if i >= 5:  # the first few set the connections up
                times.append((time.perf_counter() - begin) * 1000)
        figures[f"allreduce_ms_after_{gap_ms}ms_busy"] = round(median(times), 2)
    if dist.get_rank() == 0:
        print(json.dumps(figures))
    return 0


async def _until(condition, process, what: str) -> None:
    """Sleep until `condition()` holds; fail if the trainer process ends first."""
    while not condition():
        if process.poll() is not None:
            await asyncio.sleep(1.0)  # a frame or four: the viewer reads what the trainer wrote last
            if not condition():
                raise RuntimeError(f"the background trainer exited ({process.returncode}) before {what}: see its run.log")
        await asyncio.sleep(0.05)


async def _app_run(images: int, key_presses: int) -> tuple[float, list[float]]:
    from textual.widgets import TabbedContent

    from mnist_tui.engine.session import Session
    from mnist_tui.host.background import start
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController
    from mnist_tui.tui.screens.run_screen import RunScreen

    with tempfile.TemporaryDirectory() as runs:
        session = Session.new(bench_config(images), runs)
        process = start(session.run.path)
        controller = RunController(session.run.path, process)
        app = MnistApp(runs, controller, owns_run=True)
        latencies: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            # Waits are plain sleeps: Pilot's pause sends a message to every widget and repaints the
            # screen, work a person watching would not cause (20 times a second here).
            screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
            await _until(lambda: screen.state.started is not None, process, "training started")
            tabs = screen.query_one(TabbedContent)
            for i in range(key_presses):
                key, tab = ("2", "layers") if i % 2 == 0 else ("1", "training")
                begin = time.perf_counter()
                await pilot.press(key)
                while tabs.active != tab:
                    await pilot.pause(0.001)
                await pilot.pause()  # the refresh that shows it
                latencies.append((time.perf_counter() - begin) * 1000)
                await asyncio.sleep(0.2)
            if key_presses:
                await pilot.press("1")
            await _until(lambda: controller.finished is not None, process, "training finished")
            if controller.finished.status != "done":
                raise RuntimeError(f"the background trainer ended {controller.finished.status}: see its run.log")
            app.exit()  # the trainer serves the final model while a viewer is attached: leave
        process.wait(60)
        return events_throughput(session.run.events_path), latencies


def app_run(data: Mnist, images: int, key_presses: int = 0) -> tuple[float, list[float]]:
    """Training as the app runs it: a background trainer process watched by the Textual app
    (headless driver), Training tab shown, layer statistics every 100 batches (the engine's
    default, as for `engine_run`); with `key_presses`, also tab switches timed through Pilot (the
    fallback for key latency where tmux is missing). The trainer loads its own data."""
    return asyncio.run(_app_run(images, key_presses))


def ui_cpu_percent(size: tuple[int, int] = (80, 24), seconds: float = 8.0, batches_per_s: float = 14.0) -> float:
    """Share of one core the viewer process uses on the Training tab while batch metrics arrive in
    the run's event log at the engine's rate (and layer statistics every 100 batches), with no
    training running: CPU time, so machine noise barely moves it (the writing thread's share is
    included). Training uses every core, so this is what the app takes from it."""
    import math
    import threading

    from mnist_tui.run.control import hold_trainer_lock
    from mnist_tui.run.events import BatchMetrics, LayerStats, RunStarted, StatusChanged
    from mnist_tui.run.folder import EventLog, RunDir
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController

    stop = threading.Event()

    def simulate(run: RunDir) -> None:
        """Events at the engine's rate, written to the run's log as a trainer writes them."""
        log = EventLog(run.events_path)
        log(RunStarted("sim", "CPU", TrainConfig(epochs=50).to_dict(), 50, 781, 50_000, 10_000, []))
        log(StatusChanged("running"))
        start, step = time.perf_counter(), 0
        while not stop.is_set():
            step += 1
            loss = 2.3 * math.exp(-step / 300) + 0.05 + 0.03 * math.sin(step)
            log(BatchMetrics(step // 781, step % 781, step, loss, 1 - loss / 2.5, 900.0, step / batches_per_s))
            if step % 100 == 0:
                log(LayerStats(step // 781, step % 781, step, []))
            time.sleep(max(0.0, start + step / batches_per_s - time.perf_counter()))
        log.close()

    async def measure() -> float:
        with tempfile.TemporaryDirectory() as runs:
            run = RunDir.create(Path(runs), "sim")
            lock = hold_trainer_lock(run.path)
            writer = threading.Thread(target=simulate, args=(run,), daemon=True)
            writer.start()
            app = MnistApp(runs, RunController(run.path))
            async with app.run_test(size=size) as pilot:
                await pilot.pause(2.0)
                cpu, wall = time.process_time(), time.perf_counter()
                await asyncio.sleep(seconds)
                share = (time.process_time() - cpu) / (time.perf_counter() - wall)
                stop.set()
                app.exit()
            writer.join()
            lock.close()
        return round(100 * share, 1)

    return asyncio.run(measure())


def monitor_overhead(data: Mnist, images: int, repeats: int) -> dict:
    """`paddle.Model.fit` on LeNet, alone and with `mnist_tui.Monitor` (statistics off: what it
    costs when nothing is asked; and every 100 batches, its default), alternating; wall time of fit.
    Plus the cost of one batch end alone, which the noise of whole fits hides."""
    import paddle
    from paddle.vision.models import LeNet

    from mnist_tui.engine.monitor import Monitor

    n = images // BATCH * BATCH
    dataset = paddle.io.TensorDataset([paddle.to_tensor(data.train.images[:n]),
                                       paddle.to_tensor(data.train.labels[:n, None])])

    def fit(callbacks) -> float:
        paddle.seed(0)
        model = paddle.Model(LeNet())
        model.prepare(paddle.optimizer.Adam(parameters=model.parameters()), paddle.nn.CrossEntropyLoss(),
                      paddle.metric.Accuracy())
        start = time.perf_counter()
        model.fit(dataset, epochs=1, batch_size=BATCH, verbose=0, callbacks=callbacks)
        return n / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as runs:
        results = alternate({"fit": lambda: fit([]),
                             "fit_monitor_idle": lambda: fit([Monitor(runs_dir=runs, stats_every=0)]),
                             "fit_monitor_stats_every_100": lambda: fit([Monitor(runs_dir=runs)])}, repeats)
        # The Monitor's own share, with no training noise around it: one batch end, nothing asked.
        monitor = Monitor.attach(LeNet(), runs_dir=runs, epochs=1, steps_per_epoch=10**6, batch_size=BATCH)
        monitor.stats_every = 0
        monitor.probe.disarm()
        start = time.perf_counter()
        for _ in range(2000):
            monitor.batch([np.array([0.5], dtype="float32")], 0.9)
        batch_end_us = (time.perf_counter() - start) / 2000 * 1e6
        monitor.close()
        refresh_ms, step_ms = stats_refresh_cost(data)
    out = {"monitor_batch_end_us": round(batch_end_us, 1), "monitor_stats_refresh_cpu_ms": round(refresh_ms, 2),
           "lenet_batch_cpu_ms": round(step_ms, 2),
           "monitor_stats_every_100_pct_of_batch": round(100 * (refresh_ms / 100 + batch_end_us / 1e3) / step_ms, 2)}
    for name in ("fit_monitor_idle", "fit_monitor_stats_every_100"):
        ratios = [m / f for m, f in zip(results[name], results["fit"])]
        out[f"{name}_vs_fit_median_of_rounds"] = round(median(ratios), 3)
    out["fit_img_s"] = round(median(results["fit"]), 1)
    return out


def stats_refresh_cost(data: Mnist, steps: int = 30) -> tuple[float, float]:
    """What one statistics refresh adds to a LeNet training step (arming the probe, its hooks in
    the forward and backward, the statistics and their one host sync), and the step itself, in
    milliseconds of CPU time: medians of alternated plain and probed steps. CPU time, as whole
    fits on a shared machine move by more than the refresh costs."""
    import paddle
    from paddle.vision.models import LeNet

    from mnist_tui.engine.probe import LayerProbe

    paddle.seed(0)
    net = LeNet()
    opt = paddle.optimizer.Adam(parameters=net.parameters())
    probe = LayerProbe(net)
    x, y = paddle.to_tensor(data.train.images[:BATCH]), paddle.to_tensor(data.train.labels[:BATCH, None])

    def step() -> None:
        paddle.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        opt.clear_grad()

    def probed() -> None:
        probe.arm()
        step()
        probe.disarm()
        probe.stats()

    step()
    times = {step: [], probed: []}
    for _ in range(steps):
        for run in (step, probed):
            start = time.process_time()
            run()
            times[run].append(time.process_time() - start)
    return (median(times[probed]) - median(times[step])) * 1e3, median(times[step]) * 1e3


def history_memory_in_fresh_process(points: int) -> dict:
    """Run history_memory where neither Paddle nor the data set is loaded, so RSS is the app's own."""
    code = f"import json; from tools.bench import history_memory; print(json.dumps(history_memory({points})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternate(contenders: dict, repeats: int) -> dict[str, list[float]]:
    """Each contender once per round; every other round in reverse order, so that no contender
    always runs right after the same one (or first, or last) while the machine's load drifts."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(repeats):
        order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
        for name in order:
            value = contenders[name]()
            results[name].append(value)
            print(f"round {round_ + 1}/{repeats} {name}: {value:.0f} img/s", file=sys.stderr)
    return results


def median(values: list[float]) -> float:
    return float(statistics.median(values))


FIRST_FRAME_CHILD = """
import asyncio, sys, tempfile
from mnist_tui.run.config import TrainConfig
from mnist_tui.engine.session import Session
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController

async def first_frame():
    runs = tempfile.mkdtemp()
    app = MnistApp(runs, RunController(Session.new(TrainConfig(train_limit=640), runs).run.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print("FIRST_FRAME", flush=True)
        sys.stdout.close()
        await asyncio.sleep(30)

asyncio.run(first_frame())
"""


def first_frame_seconds() -> float:
    """Wall time from starting a fresh Python to the app's first frame (Paddle is not waited for)."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", FIRST_FRAME_CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    line = child.stdout.readline()
    elapsed = time.perf_counter() - start
    child.kill()
    child.wait()
    if "FIRST_FRAME" not in line:
        raise RuntimeError("the app did not draw a frame")
    return elapsed


def key_latency_in_terminal(presses: int = 12, size: str = "80x24") -> list[float]:
    """Key press to screen update, as a person sees it: the app runs in a real terminal (tmux)
    while it trains at full speed; each key switches tab, and the screen is read every ~5 ms
    until the new tab shows. Includes tmux's own delay, so it errs on the slow side."""
    import shutil

    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is not installed")
    cols, rows = size.split("x")
    name = f"mnist-tui-bench-{os.getpid()}"
    runs = tempfile.mkdtemp()
    command = (f"{sys.executable} -m mnist_tui --train-limit 50000 --val-limit 500 --test-limit 500 "
               f"--runs-dir {runs}")
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", cols, "-y", rows, command], check=True)

    def screen() -> str:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], check=False, capture_output=True, text=True)
        return out.stdout

    latencies = []
    try:
        deadline = time.monotonic() + 60
        while "img/s" not in screen() and time.monotonic() < deadline:  # training is streaming
            time.sleep(0.2)
        time.sleep(2)
        for i in range(presses):
            key, marker = ("2", "layer    mean") if i % 2 == 0 else ("1", "loss ")
            start = time.perf_counter()
            subprocess.run(["tmux", "send-keys", "-t", name, key], check=True)
            while marker not in screen():
                if time.perf_counter() - start > 30:
                    raise RuntimeError(f"key {key}: '{marker}' never showed")
                time.sleep(0.005)
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(0.7)
    finally:
        # Ctrl+C: the app that started the run stops its trainer (checkpoint first) and leaves.
        subprocess.run(["tmux", "send-keys", "-t", name, "C-c"], check=False)
        time.sleep(3)
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)
        _end_background_trainers(Path(runs))
    return latencies


def _end_background_trainers(runs: Path, wait_s: float = 30.0) -> None:
    """The trainer runs detached from tmux (its own session) and outlives it by design: wait for
    the runs under `runs` to let go of their trainer lock, and end a trainer that does not (by the
    pid it wrote to its run's config.json) so that it trains on no later figure's cores."""
    import signal

    from mnist_tui.run.control import trainer_alive

    deadline = time.monotonic() + wait_s
    for run in (p for p in runs.iterdir() if p.is_dir()):
        while trainer_alive(run) and time.monotonic() < deadline:
            time.sleep(0.2)
        if trainer_alive(run):
            pid = json.loads((run / "config.json").read_text()).get("pid")
            print(f"bench: the trainer of {run} (pid {pid}) outlived its app; ending it", file=sys.stderr)
            if pid:
                os.kill(pid, signal.SIGTERM)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def history_memory(points: int = 1_000_000) -> dict:
    """RSS after streaming `points` batch metrics into the app's state, and its growth over the
    last 90% of them (flat means the history is bounded)."""
    from mnist_tui.run.events import BatchMetrics, RunStarted
    from mnist_tui.tui.state import RunState

    state = RunState()
    state.apply([RunStarted("run", "CPU", {}, 10**4, 781, 50_000, 10_000, [])])
    chunk = 1000
    rss_at_10pct = None
    for start in range(0, points, chunk):
        state.apply([BatchMetrics(i // 781, i % 781, i, 1.0 / (1 + i), 0.9, 1000.0, 1.0)
                     for i in range(start, start + chunk)])
        state.dirty.clear()  # what the app's frame does after drawing
        state.new_log_lines = []
        if start + chunk == points // 10:
            rss_at_10pct = rss_mb()
    after = rss_mb()
    return {"rss_mb_after_1m_points": round(after, 1), "rss_growth_mb_last_900k": round(after - rss_at_10pct, 1)}


# The course's model as RunStarted describes it: name, type, output shape, parameter shapes.
SYNTHETIC_LAYERS = [
    ("conv1", "Conv2D", [64, 20, 28, 28], {"weight": [20, 1, 5, 5], "bias": [20]}),
    ("relu1", "ReLU", [64, 20, 28, 28], {}),
    ("pool1", "MaxPool2D", [64, 20, 14, 14], {}),
    ("conv2", "Conv2D", [64, 20, 14, 14], {"weight": [20, 20, 5, 5], "bias": [20]}),
    ("relu2", "ReLU", [64, 20, 14, 14], {}),
    ("pool2", "MaxPool2D", [64, 20, 7, 7], {}),
    ("flatten", "Flatten", [64, 980], {}),
    ("fc", "Linear", [64, 10], {"weight": [980, 10], "bias": [10]}),
]


def write_finished_run(runs_dir: str | Path, name: str = "finished", epochs: int = 5, bpe: int = 781) -> Path:
    """A synthetic finished run written as the trainer writes one: RunStarted, one BatchMetrics
    per batch, layer statistics (8 layers) every 100 batches, a validation with its mistakes (4
    worst digits) at each epoch's end, the test result and Finished. No Paddle. Returns its folder."""
    import math

    from mnist_tui.run.events import BatchMetrics, EvalResult, Finished, LayerStats, Mistakes, RunStarted, StatusChanged
    from mnist_tui.run.folder import CONFIG, EventLog, RunDir

    cfg = TrainConfig(epochs=epochs).to_dict()
    run = RunDir.create(runs_dir, name)
    run.write_json(CONFIG, {"config": cfg, "data_dir": None})
    layers = [{"name": n, "type": t, "hyper": {}, "param_shapes": p, "output_shape": o,
               "param_count": sum(math.prod(shape) for shape in p.values())} for n, t, o, p in SYNTHETIC_LAYERS]

    def stats(step: int) -> list[dict]:
        dead = step / (epochs * bpe) / 4
        return [{"name": n, "mean": 0.1 * i, "std": 0.5 + dead, "min": 0.0 if "relu" in n else -1.0, "max": 2.0 + i,
                 "zero_frac": 0.5 if "relu" in n else 0.0, "dead_frac": dead if n in ("relu2", "pool2") else 0.0,
                 "grad_norm": 0.5 if t in ("Conv2D", "Linear") else None,
                 "update_ratio_log10": -3.0 if t in ("Conv2D", "Linear") else None}
                for i, (n, t, *_rest) in enumerate(SYNTHETIC_LAYERS)]

    rows, cols = np.mgrid[0:28, 0:28]

    def digit(seed: int) -> str:
        return ((np.abs(np.hypot(rows - 14, cols - 10 - seed) - 8) < 2.5) * 255).astype(np.uint8).tobytes().hex()

    confusion = [[980 if t == p else 2 for p in range(10)] for t in range(10)]
    log = EventLog(run.events_path)
    log(RunStarted(str(run.path), "CPU", cfg, epochs, bpe, 50_000, 10_000, layers))
    log(StatusChanged("running"))
    for step in range(epochs * bpe):
        epoch, batch = divmod(step, bpe)
        loss = 2.3 * math.exp(-step / 300) + 0.03 + 0.02 * math.sin(step)
        log(BatchMetrics(epoch, batch, step, loss, 1 - loss / 2.5, 1400.0, step / 22))
        if step % 100 == 0:
            log(LayerStats(epoch, batch, step, stats(step)))
        if batch == bpe - 1:
            acc = 0.985 + 0.001 * epoch
            log(EvalResult("val", epoch, batch, step, 0.05, acc, 0.06, 0.98, 0.04, acc + 0.002, 10_000, 10_000, "fine",
                           f"Fine: train {100 * acc + 0.2:.2f}% vs validation {100 * acc:.2f}%."))
            log(Mistakes(epoch, batch, step, confusion,
                         [{"index": 97 * i, "label": label, "pred": pred, "confidence": 0.9, "image": digit(i)}
                          for i, (label, pred) in enumerate([(4, 9), (7, 2), (5, 3), (8, 1)])]))
    log(EvalResult("test", epochs - 1, bpe - 1, epochs * bpe - 1, 0.04, 0.99, size=10_000))
    log(StatusChanged("done"))
    log(Finished("done", 0.99, 0.04))
    log.close()
    return run.path


def watch_history_load_seconds(run_path: Path, size: tuple[int, int] = (80, 24)) -> float:
    """Opening a finished run's folder to watch it: wall time from creating the app to the moment
    its run view holds every batch of the history and the screen has drawn it (Textual imported
    beforehand; `first_frame_s` is the import's figure)."""
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.controller import RunController
    from mnist_tui.tui.screens.run_screen import RunScreen

    async def measure() -> float:
        start = time.perf_counter()
        app = MnistApp(run_path.parent, RunController(run_path))
        async with app.run_test(size=size) as pilot:
            while True:
                screen = next((s for s in app.screen_stack if isinstance(s, RunScreen)), None)
                state = screen.state if screen else None
                if state and state.started and state.step == state.total_steps - 1 and state.test is not None:
                    break
                await asyncio.sleep(0.005)
            await pilot.pause()  # the frame that shows it
            elapsed = time.perf_counter() - start
            app.exit()
        return elapsed

    return asyncio.run(measure())


def runs_index_seconds(run_path: Path, copies: int = 50) -> float | None:
    """`runs_index.list_runs` over `copies` copies of a finished run (what the runs table reads);
    None while the runs index does not exist."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("mnist_tui.run.index") is None:
        return None
    from mnist_tui.run.index import list_runs

    with tempfile.TemporaryDirectory() as runs:
        for i in range(copies):
            shutil.copytree(run_path, Path(runs) / f"run{i:02d}")
        start = time.perf_counter()
        listed = list_runs(runs)
        elapsed = time.perf_counter() - start
    if len(listed) != copies:
        raise RuntimeError(f"list_runs found {len(listed)} of {copies} runs")
    return elapsed


def viewer_figures(repeats: int = 3) -> dict:
    """Reading a finished 5-epoch run: drawn by the app, and listed 50 times by the runs index."""
    with tempfile.TemporaryDirectory() as runs:
        run_path = write_finished_run(runs)
        figures = {"watch_history_log_mb": round(run_path.joinpath("events.jsonl").stat().st_size / 2**20, 2),
                   "watch_history_load_s": round(median([watch_history_load_seconds(run_path)
                                                         for _ in range(repeats)]), 3)}
        index = [runs_index_seconds(run_path) for _ in range(repeats)]
    if index[0] is None:
        figures["runs_index_50_runs_s"] = "skipped: mnist_tui/runs_index.py does not exist"
    else:
        figures["runs_index_50_runs_s"] = round(median(index), 3)
    return figures


# oneDNN's kernels: Paddle reads these at its import (so they go in the engine process's environment).
ONEDNN_FLAGS = {"FLAGS_use_mkldnn": "1", "FLAGS_use_onednn": "1"}


def speed_levers(data: Mnist, images: int) -> dict:
    """The ranks engine's speed levers (issue 22), each a contender measured against its base
    (`engine`, or `engine_one_rank` for the `engine_one_rank_` ones) in the same rounds."""
    def sync(how: str) -> dict:
        return {ranks.GRADIENT_SYNC_ENV: how}

    return {"engine_onednn": lambda: engine_run(data, images, env=ONEDNN_FLAGS),
            "engine_one_rank_onednn": lambda: engine_run(data, images, env=ONEDNN_FLAGS, nproc=1),
            "engine_gradient_overlap": lambda: engine_run(data, images, env=sync(ranks.OVERLAP)),
            "engine_gradient_buckets": lambda: engine_run(data, images, env=sync(ranks.BUCKETS))}


def per_round(results: dict[str, list[float]], name: str, a: str, b: str) -> dict:
    """`a` over `b` in each round, and the median of those: neighbours in time share the machine's
    load, so on a shared machine it is the steadier figure."""
    ratios = [x / y for x, y in zip(results[a], results[b])]
    return {f"{name}_per_round": [round(r, 3) for r in ratios], f"{name}_median_of_rounds": round(median(ratios), 3)}


def lever_ratios(results: dict[str, list[float]]) -> dict:
    """Each `engine_*` lever's images per second over its base's (per_round)."""
    summary = {}
    for lever in (name for name in results if name.startswith("engine_") and name != "engine_one_rank"):
        base = "engine_one_rank" if lever.startswith("engine_one_rank_") else "engine"
        summary.update(per_round(results, f"{lever}_vs_{base}", lever, base))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench")
    parser.add_argument("--quick", action="store_true", help="a short version (under a minute)")
    parser.add_argument("--images", type=int, help="images per contender and round")
    parser.add_argument("--repeats", type=int, help="rounds (each contender once per round); 5, or 3 with --quick")
    parser.add_argument("--levers", action="store_true", help="also measure the older speed levers (to_static, "
                        "sync every batch, 2 threads)")
    parser.add_argument("--levers-only", action="store_true", help="only the engine and its speed levers, each "
                        "against its base per round; print their figures and stop")
    parser.add_argument("--engine-once", nargs=2, metavar=("CONFIG", "RUNS"), help=argparse.SUPPRESS)
    parser.add_argument("--collective-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_once:
        return engine_once(*args.engine_once)
    if args.collective_probe:
        return collective_probe()
    images = args.images or (1280 if args.quick else 12800)
    repeats = args.repeats or (3 if args.quick else 5)
    data = load_mnist()
    contenders = {"engine": lambda: engine_run(data, images),
                  "engine_one_rank": lambda: engine_run(data, images, nproc=1)}
    if not args.levers_only:
        contenders = {"course": lambda: course_loop(data, images), **contenders,
                      "app": lambda: app_run(data, images)[0]}
    contenders.update(speed_levers(data, images))
    if args.levers:
        contenders["engine_to_static"] = lambda: engine_run(data, images, to_static=True)
        contenders["engine_sync_every_batch"] = lambda: engine_run(data, images, metrics_interval_s=0.0)
        contenders["engine_one_rank_2_threads"] = lambda: engine_run(data, images, nproc=1, threads=2)
    if not args.levers_only:
        course_loop(data, 640)  # warm-up: kernels, allocator
    engine_run(data, 640)
    results = alternate(contenders, repeats)
    summary = {f"{name}_img_s": round(median(v), 1) for name, v in results.items()}
    if args.levers_only:
        summary.update(per_round(results, "engine_vs_one_rank", "engine", "engine_one_rank"))
        summary.update(lever_ratios(results))
        summary.update(images_per_round=images, repeats=repeats, load_average=os.getloadavg())
        print(json.dumps(summary))
        return 0
    summary["engine_vs_course"] = round(summary["engine_img_s"] / summary["course_img_s"], 3)
    summary["app_vs_engine"] = round(summary["app_img_s"] / summary["engine_img_s"], 3)
    for name, a, b in (("engine_vs_course", "engine", "course"), ("app_vs_engine", "app", "engine"),
                       ("engine_vs_one_rank", "engine", "engine_one_rank")):
        summary.update(per_round(results, name, a, b))
    summary.update(lever_ratios(results))
    try:
        latencies = key_latency_in_terminal()
        summary["key_latency_measured_in"] = "tmux, 80x24"
    except (RuntimeError, OSError):
        latencies = app_run(data, images, key_presses=10 if not args.quick else 4)[1]
        summary["key_latency_measured_in"] = "Pilot (no tmux): includes Pilot's wait for an idle app"
    summary["key_p50_ms"] = round(float(np.percentile(latencies, 50)), 1)
    summary["key_p95_ms"] = round(float(np.percentile(latencies, 95)), 1)
    summary["first_frame_s"] = round(median([first_frame_seconds() for _ in range(3)]), 2)
    summary["ui_cpu_pct_80x24"] = ui_cpu_percent((80, 24))
    summary["ui_cpu_pct_120x40"] = ui_cpu_percent((120, 40))
    summary.update(collective_latency())
    summary.update(viewer_figures())
    summary.update(monitor_overhead(data, images, repeats))
    summary.update(history_memory_in_fresh_process(100_000 if args.quick else 1_000_000))
    summary.update(images_per_round=images, repeats=repeats, machine=f"{platform.machine()}, {os.cpu_count()} cores",
                   python=platform.python_version())
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
