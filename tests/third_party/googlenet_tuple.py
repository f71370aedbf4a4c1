"""A model whose forward returns a tuple (main logits and an auxiliary head), in a hand loop.

Mirrors: PaddlePaddle/Paddle, python/paddle/vision/models/googlenet.py (GoogLeNet's forward returns
`out, out1, out2`: the main classifier and two auxiliary classifiers on intermediate features;
training weights the auxiliary losses into the total).
Differs: a small convolutional trunk with one auxiliary head instead of the Inception blocks;
a few batches of the bundled MNIST (no download); a hand loop, total loss = main + 0.3 x auxiliary,
accuracy of the main head; the Monitor attached to the network.
"""

from __future__ import annotations

import argparse

import paddle
import paddle.nn.functional as F
from _data import mnist
from paddle import nn

from mnist_tui import Monitor


class TwoHeads(nn.Layer):
    def __init__(self, num_classes=10):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2D(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2))
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2D(4), nn.Flatten(), nn.Linear(8 * 16, num_classes))
        self.tail = nn.Sequential(nn.Conv2D(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2D(1), nn.Flatten())
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        features = self.trunk(x)
        return self.fc(self.tail(features)), self.aux(features)


def main(runs_dir="runs", batches=6, batch_size=32):
    """Returns the (loss, acc) the loop computed for each batch."""
    paddle.seed(0)
    (x, y), _ = mnist(batches * batch_size, 0)
    net = TwoHeads()
    optim = paddle.optimizer.Adam(learning_rate=0.002, parameters=net.parameters())
    monitor = Monitor.attach(net, runs_dir=runs_dir, epochs=1, steps_per_epoch=batches, batch_size=batch_size,
                             stats_every=2)
    seen = []
    for i in range(batches):
        images = paddle.to_tensor(x[i * batch_size : (i + 1) * batch_size])
        labels = paddle.to_tensor(y[i * batch_size : (i + 1) * batch_size])
        out, aux = net(images)
        loss = F.cross_entropy(out, labels) + 0.3 * F.cross_entropy(aux, labels)
        acc = paddle.metric.accuracy(out, labels)
        loss.backward()
        optim.step()
        optim.clear_grad()
        seen.append((float(loss), float(acc)))
        monitor.batch(loss, acc)
        if i == 1:
            monitor.request_snapshot()  # as a viewer's `s` does: the probe is armed, the snapshot follows
    monitor.close()
    return seen, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
