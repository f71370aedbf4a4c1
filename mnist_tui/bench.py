"""Benchmark: the course's loop vs our engine vs our engine under the app, side by side in one run.

    python -m mnist_tui.bench [--quick]

Contenders alternate and repeat, so a noisy shared machine hits them alike; only ratios are
compared. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from .config import TrainConfig
from .engine.mnist import Mnist, load_mnist

BATCH = 64


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


def engine_run(data: Mnist, images: int, **changes) -> float:
    """Our engine, headless, one epoch over `images` images; returns images per second."""
    from .engine.session import Session

    cfg = TrainConfig(epochs=1, batch_size=BATCH, train_limit=images, val_limit=BATCH, test_limit=BATCH,
                      checkpoint_every_epoch=False, **changes)
    with tempfile.TemporaryDirectory() as runs:
        session = Session.new(cfg, runs, data=data)
        trainer = session.make_trainer()
        seen = []
        session.bus.subscribe(lambda e: seen.append(e) if e.kind == "BatchMetrics" else None)
        start = time.perf_counter()
        trainer._setup(None)
        trainer._train()
        elapsed = time.perf_counter() - start
        session.close()
    return len(seen) * BATCH / elapsed


def alternate(contenders: dict, repeats: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(repeats):
        for name, fn in contenders.items():
            value = fn()
            results[name].append(value)
            print(f"round {round_ + 1}/{repeats} {name}: {value:.0f} img/s", file=sys.stderr)
    return results


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_tui.bench")
    parser.add_argument("--quick", action="store_true", help="a short version (under a minute)")
    parser.add_argument("--images", type=int, help="images per contender and round")
    parser.add_argument("--repeats", type=int, help="rounds (each contender once per round)")
    parser.add_argument("--levers", action="store_true", help="also measure each speed lever on its own")
    args = parser.parse_args(argv)
    images = args.images or (1280 if args.quick else 6400)
    repeats = args.repeats or 3
    data = load_mnist()
    contenders = {
        "course": lambda: course_loop(data, images),
        "engine": lambda: engine_run(data, images),
    }
    if args.levers:
        contenders["engine_to_static"] = lambda: engine_run(data, images, to_static=True)
        contenders["engine_sync_every_batch"] = lambda: engine_run(data, images, metrics_interval_s=0.0)
    course_loop(data, 640)  # warm-up: oneDNN kernels, allocator
    engine_run(data, 640)
    results = alternate(contenders, repeats)
    summary = {f"{name}_img_s": round(median(v), 1) for name, v in results.items()}
    summary["engine_vs_course"] = round(summary["engine_img_s"] / summary["course_img_s"], 3)
    summary.update(images_per_round=images, repeats=repeats, machine=f"{platform.machine()}, {os.cpu_count()} cores",
                   python=platform.python_version())
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
