"""A hand-written Paddle training loop watched by mnist-tui: three calls to `Monitor`.

    python examples/hand_loop.py --epochs 1 --train-limit 2000 --runs-dir runs
    mnist-tui watch
"""

from __future__ import annotations

import argparse

import paddle
import paddle.nn.functional as F
from paddle import nn

from mnist_tui import Monitor
from mnist_tui.engine.data import load_mnist


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=10_000)
    p.add_argument("--runs-dir", default="runs")
    args = p.parse_args(argv)
    paddle.seed(0)
    data = load_mnist()
    train, val = data.train.head(args.train_limit), data.val.head(1000)
    net = nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2), nn.Conv2D(8, 16, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    opt = paddle.optimizer.Adam(learning_rate=0.001, parameters=net.parameters())
    batch = 64
    steps = len(train) // batch
    monitor = Monitor.attach(net, runs_dir=args.runs_dir, epochs=args.epochs, steps_per_epoch=steps, batch_size=batch,
                             optimizer=opt)  # its learning rate is logged with each batch
    for _ in range(args.epochs):
        for i in range(steps):
            x = paddle.to_tensor(train.images[i * batch : (i + 1) * batch])
            y = paddle.to_tensor(train.labels[i * batch : (i + 1) * batch])
            logits = net(x)
            loss = F.cross_entropy(logits, y[:, None])
            loss.backward()
            opt.step()
            opt.clear_grad()
            acc = (logits.argmax(axis=1) == y).astype("float32").mean()
            if not monitor.batch(loss, acc):  # False: stopped from the viewer
                break
        monitor.epoch_end()
        with paddle.no_grad():
            logits = net(paddle.to_tensor(val.images))
            y = paddle.to_tensor(val.labels)
            monitor.evaluated(F.cross_entropy(logits, y[:, None]), (logits.argmax(axis=1) == y).astype("float32").mean(),
                              size=len(val))
    monitor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
