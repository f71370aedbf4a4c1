"""An LSTM text classifier under Model.fit with accuracy.

Mirrors: PaddlePaddle/PaddleNLP, examples/text_classification/rnn/model.py (LSTMModel: an Embedding
with a padding index, an LSTM encoder, a tanh fully connected layer, an output layer of one score
per class) and train.py (paddle.Model, Adam, CrossEntropyLoss, paddle.metric.Accuracy, fit with a
dev split).
Differs: paddle.nn.LSTM and its last hidden state instead of paddlenlp's LSTMEncoder (no
paddlenlp); seeded synthetic token sequences whose class is which half of the vocabulary dominates,
instead of ChnSentiCorp and a Jieba tokenizer (no download); one epoch; the Monitor added.
"""

from __future__ import annotations

import argparse

import numpy as np
import paddle
from _data import dataset
from paddle import nn

from mnist_tui import Monitor

VOCAB, LENGTH = 200, 24


def sentences(count: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    low = rng.integers(1, VOCAB // 2, (count, LENGTH))
    high = rng.integers(VOCAB // 2, VOCAB, (count, LENGTH))
    mostly = rng.random((count, LENGTH)) < 0.7
    tokens = np.where(mostly == labels[:, None].astype(bool), high, low)
    return tokens.astype("int64"), labels[:, None].astype("int64")


class LSTMModel(nn.Layer):
    def __init__(self, vocab_size=VOCAB, num_classes=2, emb_dim=32, hidden=48, fc_hidden=24):
        super().__init__()
        self.embedder = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        self.lstm = nn.LSTM(emb_dim, hidden)
        self.fc = nn.Linear(hidden, fc_hidden)
        self.output_layer = nn.Linear(fc_hidden, num_classes)

    def forward(self, text):
        _, (last_hidden, _) = self.lstm(self.embedder(text))
        return self.output_layer(paddle.tanh(self.fc(last_hidden[-1])))


def main(runs_dir="runs", train=256, val=128, batch_size=32, callbacks=()):
    paddle.seed(0)
    model = paddle.Model(LSTMModel())
    model.prepare(paddle.optimizer.Adam(learning_rate=0.005, parameters=model.parameters()), nn.CrossEntropyLoss(),
                  paddle.metric.Accuracy())
    monitor = Monitor(runs_dir=runs_dir, hold_for_viewers=False, stats_every=4)
    model.fit(dataset(*sentences(train, 0)), dataset(*sentences(val, 1)), epochs=1, batch_size=batch_size, verbose=0,
              callbacks=[monitor, *callbacks])
    return model, monitor.run.path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    main(parser.parse_args().runs_dir)
