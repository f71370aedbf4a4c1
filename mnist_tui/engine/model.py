"""The course's CNN, with every stage a named sub-layer so it can be inspected one by one."""

from __future__ import annotations

import paddle
from paddle import nn


class MnistCNN(nn.Layer):
    """conv1(1->20,k5,p2) -> ReLU -> maxpool 2 -> conv2(20->20,k5,p2) -> ReLU -> maxpool 2 -> fc(980->10)."""

    def __init__(self, l2: dict[str, float] | None = None) -> None:
        super().__init__()
        l2 = l2 or {}

        def weight_attr(name: str):
            # Per-layer L2 goes on the weight's ParamAttr; Paddle then uses it instead of the
            # optimiser's global weight_decay for that parameter.
            if name not in l2:
                return None
            return paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(l2[name]))

        self.conv1 = nn.Conv2D(1, 20, 5, stride=1, padding=2, weight_attr=weight_attr("conv1"))
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(20, 20, 5, stride=1, padding=2, weight_attr=weight_attr("conv2"))
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(980, 10, weight_attr=weight_attr("fc"))

    def forward(self, x):
        for _, layer in self.named_children():
            x = layer(x)
        return x
