"""Model.fit with no metric: a time-series autoencoder trained on reconstruction loss alone.

Mirrors: PaddlePaddle/docs, docs/practices/time_series/autoencoder.ipynb ("通过AutoEncoder实现时序
数据异常检测": windows of a daily signal, a Conv1D encoder and a Conv1DTranspose decoder, MSE, Adam).
Differs: a seeded synthetic daily signal with noise instead of the NAB CSV (no download); smaller
channels; Model.fit with a validation split and no metric (Paddle then logs loss only); one epoch;
the Monitor added as a callback.
"""

from __future__ import annotations

import argparse

import numpy as np
import paddle
from _data import dataset
from paddle import nn

from mnist_tui import Monitor

WINDOW = 96  # 5-minute samples of a day's shape, as the tutorial's windows


def windows(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(count + WINDOW)
    signal = np.sin(2 * np.pi * t / 288) + 0.1 * rng.standard_normal(len(t))
    return np.stack([signal[i : i + WINDOW] for i in range(count)]).astype("float32")[:, None, :]


class AutoEncoder(nn.Layer):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1D(1, 16, 7, stride=2, padding=3), nn.ReLU(),
                                     nn.Conv1D(16, 8, 7, stride=2, padding=3), nn.ReLU())
        self.decoder = nn.Sequential(nn.Conv1DTranspose(8, 8, 7, stride=2, padding=3, output_padding=1), nn.ReLU(),
                                     nn.Conv1DTranspose(8, 16, 7, stride=2, padding=3, output_padding=1), nn.ReLU(),
                                     nn.Conv1D(16, 1, 7, padding=3))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def main(runs_dir="runs", train=192, val=100, batch_size=32, callbacks=()):
    paddle.seed(0)
    x, vx = windows(train, 0), windows(val, 1)
    model = paddle.Model(AutoEncoder())
    model.prepare(paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters()), nn.MSELoss())
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False)
    model.fit(dataset(x, x), dataset(vx, vx), epochs=1, batch_size=batch_size, verbose=0, callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
