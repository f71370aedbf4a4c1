"""A GAN with two networks and two optimisers, in a hand-written loop.

Mirrors: PaddlePaddle/docs, docs/practices/gan/GAN_with_MINIST/GAN_with_MINIST.ipynb (a generator
from noise to 28x28 digits and a discriminator scoring real against generated, each with its own
Adam optimiser; per batch the discriminator steps on real and fake images with binary
cross-entropy, then the generator steps to make the discriminator call its fakes real).
Differs: small fully connected networks; a few batches of the bundled MNIST (no download); the
Monitor attached to both networks by name, the discriminator's and the generator's loss reported
under their own names.
"""

from __future__ import annotations

import argparse

import paddle
from _data import mnist
from paddle import nn

from mnist_tui import Monitor

NOISE = 32


def generator():
    return nn.Sequential(nn.Linear(NOISE, 128), nn.LeakyReLU(0.2), nn.Linear(128, 784), nn.Tanh())


def discriminator():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1), nn.Sigmoid())


def main(runs_dir="runs", batches=6, batch_size=32, epochs=1):
    """Returns the losses the loop computed, batch by batch: (d_loss, g_loss)."""
    paddle.seed(0)
    (x, _), _ = mnist(batches * batch_size, 0)
    g, d = generator(), discriminator()
    g_opt = paddle.optimizer.Adam(learning_rate=2e-4, beta1=0.5, parameters=g.parameters())
    d_opt = paddle.optimizer.Adam(learning_rate=2e-4, beta1=0.5, parameters=d.parameters())
    bce = nn.BCELoss()
    monitor = Monitor.attach({"generator": g, "discriminator": d}, runs_dir=runs_dir, epochs=epochs,
                             steps_per_epoch=batches, batch_size=batch_size, stats_every=2)
    seen = []
    for _ in range(epochs):
        for i in range(batches):
            real = paddle.to_tensor(x[i * batch_size : (i + 1) * batch_size])
            ones, zeros = paddle.ones([batch_size, 1]), paddle.zeros([batch_size, 1])
            fake = g(paddle.randn([batch_size, NOISE])).reshape([batch_size, 1, 28, 28])
            d_loss = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            d_loss.backward()
            d_opt.step()
            d_opt.clear_grad()
            g_loss = bce(d(fake), ones)
            g_loss.backward()
            g_opt.step()
            g_opt.clear_grad()
            d_opt.clear_grad()  # the generator's step left gradients in the discriminator
            seen.append((float(d_loss), float(g_loss)))
            if not monitor.batch(d_loss, g_loss=g_loss):
                break
    monitor.close()
    return seen, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
