"""Regression with MSE under Model.fit: house prices from 13 features.

Mirrors: PaddlePaddle/docs, docs/practices/quick_start/linear_regression.ipynb (the Boston housing
regression: 13 normalised features, one fully connected layer predicting the price, MSELoss, SGD).
Differs: seeded synthetic features and prices from a fixed linear rule plus noise instead of the
UCI housing file (no download); paddle.Model.fit with a validation split; one epoch; the Monitor
added as a callback.
"""

from __future__ import annotations

import argparse

import numpy as np
import paddle
from _data import dataset
from paddle import nn

from mnist_tui import Monitor


def houses(count: int, seed: int, dtype: str = "float32"):
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 1, (count, 13))
    prices = features @ np.linspace(-3, 3, 13) + 22 + 0.5 * rng.standard_normal(count)
    return features.astype(dtype), prices[:, None].astype(dtype)


class Regressor(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(13, 1)

    def forward(self, x):
        return self.fc(x)


def main(runs_dir="runs", train=320, val=150, batch_size=32, callbacks=(), dtype="float32", monitor_options=None):
    paddle.seed(0)
    model = paddle.Model(Regressor())
    model.prepare(paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters()), nn.MSELoss())
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False, **(monitor_options or {}))
    model.fit(dataset(*houses(train, 0, dtype)), dataset(*houses(val, 1, dtype)), epochs=1, batch_size=batch_size,
              verbose=0, callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
