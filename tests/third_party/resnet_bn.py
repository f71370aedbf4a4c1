"""A BatchNorm ResNet under Model.fit with accuracy.

Mirrors: PaddlePaddle/Paddle, python/paddle/vision/models/resnet.py (BasicBlock: two 3x3
convolutions each followed by BatchNorm2D, ReLU, a 1x1 convolution plus BatchNorm on the shortcut
when the shape changes; a stem, stages of blocks, adaptive average pooling, a linear classifier).
Differs: two stages of one block each, 8 and 16 channels, a 1-channel stem for the bundled MNIST
(a few hundred images, no download); one epoch; the Monitor added as a callback.
"""

from __future__ import annotations

import argparse

import paddle
from _data import dataset, mnist
from paddle import nn

from mnist_tui import Monitor


class BasicBlock(nn.Layer):
    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2D(channels_in, channels_out, 3, stride=stride, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(channels_out)
        self.conv2 = nn.Conv2D(channels_out, channels_out, 3, padding=1, bias_attr=False)
        self.bn2 = nn.BatchNorm2D(channels_out)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or channels_in != channels_out:
            self.downsample = nn.Sequential(nn.Conv2D(channels_in, channels_out, 1, stride=stride, bias_attr=False),
                                            nn.BatchNorm2D(channels_out))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class SmallResNet(nn.Layer):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2D(1, 8, 3, padding=1, bias_attr=False), nn.BatchNorm2D(8), nn.ReLU())
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(paddle.flatten(self.pool(x), 1))


def main(runs_dir="runs", train=192, val=128, batch_size=32, callbacks=()):
    paddle.seed(0)
    (x, y), (vx, vy) = mnist(train, val)
    model = paddle.Model(SmallResNet())
    optim = paddle.optimizer.Momentum(learning_rate=0.05, momentum=0.9, parameters=model.parameters())
    model.prepare(optim, nn.CrossEntropyLoss(), paddle.metric.Accuracy())
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False, stats_every=3)
    model.fit(dataset(x, y), dataset(vx, vy), epochs=1, batch_size=batch_size, verbose=0, callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
