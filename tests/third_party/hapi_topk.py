"""Model.fit with top-k accuracy.

Mirrors: PaddlePaddle/Paddle, python/paddle/hapi/model.py, the example in `Model.fit`'s docstring
(LeNet on MNIST through paddle.Model, Adam, CrossEntropyLoss, `paddle.metric.Accuracy(topk=(1, 2))`,
a validation set passed to fit).
Differs: top-1 and top-5 (Paddle logs them as `acc_top1`, `acc_top5`); a few hundred images of
the bundled MNIST instead of the downloaded dataset; one epoch; the Monitor added as a callback.
"""

from __future__ import annotations

import argparse

import paddle
from _data import dataset, mnist
from paddle.vision.models import LeNet

from mnist_tui import Monitor


def main(runs_dir="runs", train=256, val=200, batch_size=64, callbacks=()):
    paddle.seed(0)
    (x, y), (vx, vy) = mnist(train, val)
    model = paddle.Model(LeNet())
    optim = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())
    model.prepare(optim, paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy(topk=(1, 5)))
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False)
    model.fit(dataset(x, y), dataset(vx, vy), epochs=1, batch_size=batch_size, verbose=0,
              callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
