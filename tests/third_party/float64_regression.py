"""A float64 model under Model.fit with MSE: `paddle.set_default_dtype("float64")` before the network
is built, so every parameter, activation and gradient is float64.

Mirrors: PaddlePaddle/Paddle, test/rnn/test_rnn_nets.py (it sets `paddle.set_default_dtype("float64")`
at import, before any layer exists) for the dtype, and PaddlePaddle/docs,
docs/practices/quick_start/linear_regression.ipynb for the task, here with a hidden layer.
Differs: seeded synthetic house features and prices (no download); Model.fit with a validation split;
one epoch; the Monitor added as a callback. This is the case that killed training at batch 0.
"""

from __future__ import annotations

import argparse

import paddle
from linear_regression import houses
from paddle import nn

from mnist_tui import Monitor


def main(runs_dir="runs", train=320, val=150, batch_size=32, callbacks=()):
    from _data import dataset

    paddle.set_default_dtype("float64")
    paddle.seed(0)
    net = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 1))
    model = paddle.Model(net)
    model.prepare(paddle.optimizer.Adam(learning_rate=0.01, parameters=model.parameters()), nn.MSELoss())
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False, stats_every=2)
    model.fit(dataset(*houses(train, 0, "float64")), dataset(*houses(val, 1, "float64")), epochs=1,
              batch_size=batch_size, verbose=0, callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
