"""A hand-written training loop that never says where an epoch ends.

Mirrors: PaddlePaddle/docs, docs/guides/beginner/train_eval_predict_cn.ipynb, its training with the
basic API (a DataLoader over MNIST, `for epoch in range(epochs): for batch_id, data in
enumerate(train_loader())`, cross-entropy and `paddle.metric.accuracy` per batch, backward, step,
clear_grad, a log line every few batches; then an evaluation loop in eval mode over the test
loader, averaging loss and accuracy).
Differs: LeNet on a few hundred images of the bundled MNIST (no download); two epochs; the
Monitor attached with the loader (so it knows an epoch's length) and told each batch and each
evaluation, never `epoch_end`.
"""

from __future__ import annotations

import argparse

import numpy as np
import paddle
import paddle.nn.functional as F
from _data import dataset, mnist
from paddle.vision.models import LeNet

from mnist_tui import Monitor


def main(runs_dir="runs", train=192, val=96, batch_size=32, epochs=2):
    """Returns what the loop itself printed: per batch (epoch, batch_id, loss, acc), per evaluation
    (epoch, mean loss, mean acc, images)."""
    paddle.seed(0)
    (x, y), (vx, vy) = mnist(train, val)
    train_loader = paddle.io.DataLoader(dataset(x, y), batch_size=batch_size, shuffle=False)
    val_loader = paddle.io.DataLoader(dataset(vx, vy), batch_size=batch_size)
    model = LeNet()
    optim = paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())
    monitor = Monitor.attach(model, runs_dir=runs_dir, epochs=epochs, loader=train_loader)
    printed, evaluations = [], []
    for epoch in range(epochs):
        model.train()
        for batch_id, (images, labels) in enumerate(train_loader()):
            predicts = model(images)
            loss = F.cross_entropy(predicts, labels)
            acc = paddle.metric.accuracy(predicts, labels)
            loss.backward()
            optim.step()
            optim.clear_grad()
            printed.append((epoch, batch_id, float(loss), float(acc)))
            monitor.batch(loss, acc)
        model.eval()
        losses, accs, sizes = [], [], []
        with paddle.no_grad():
            for images, labels in val_loader():
                predicts = model(images)
                losses.append(float(F.cross_entropy(predicts, labels)))
                accs.append(float(paddle.metric.accuracy(predicts, labels)))
                sizes.append(len(labels))
        mean_loss, mean_acc = np.average(losses, weights=sizes), np.average(accs, weights=sizes)
        evaluations.append((epoch, mean_loss, mean_acc, sum(sizes)))
        monitor.evaluated(mean_loss, mean_acc, size=sum(sizes))
    monitor.close()
    return printed, evaluations, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
