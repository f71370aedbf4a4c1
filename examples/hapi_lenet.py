"""LeNet trained with `paddle.Model.fit`, watched by mnist-tui through the `Monitor` callback.

    python examples/hapi_lenet.py --epochs 1 --train-limit 2000 --runs-dir runs
    mnist-tui watch              # in another shell: LeNet's layers, r for statistics, s, p

MNIST comes from mnist-tui's bundled IDX files through Paddle's own dataset class, so nothing is
downloaded.
"""

from __future__ import annotations

import argparse

import numpy as np
import paddle
from paddle.io import Subset
from paddle.vision.datasets import MNIST
from paddle.vision.models import LeNet

from mnist_tui import Monitor
from mnist_tui.engine.data import bundled_dir


def mnist(mode: str, limit: int | None):
    prefix = "train" if mode == "train" else "t10k"
    data = MNIST(image_path=str(bundled_dir() / f"{prefix}-images-idx3-ubyte.gz"),
                 label_path=str(bundled_dir() / f"{prefix}-labels-idx1-ubyte.gz"), mode=mode,
                 transform=lambda image: (np.asarray(image, dtype="float32") / 127.5 - 1.0).reshape(1, 28, 28))
    return Subset(data, list(range(limit))) if limit else data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-limit", type=int, help="train on the first N images only")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)
    paddle.seed(0)
    model = paddle.Model(LeNet())
    model.prepare(paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters()),
                  paddle.nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    model.fit(mnist("train", args.train_limit), mnist("test", 1000), epochs=args.epochs, batch_size=args.batch_size,
              verbose=0, callbacks=[Monitor(runs_dir=args.runs_dir)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
