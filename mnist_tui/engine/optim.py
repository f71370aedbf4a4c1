"""The course's four optimisers, with the learning-rate schedule and the whole-model L2 decay."""

from __future__ import annotations

import paddle

from mnist_tui.run.config import TrainConfig


def build_optimizer(cfg: TrainConfig, parameters, total_steps: int):
    lr = cfg.lr
    if cfg.schedule == "cosine":
        lr = paddle.optimizer.lr.CosineAnnealingDecay(cfg.lr, T_max=max(1, total_steps))
    decay = paddle.regularizer.L2Decay(cfg.weight_decay) if cfg.weight_decay > 0 else None
    common = {"learning_rate": lr, "parameters": parameters, "weight_decay": decay}
    if cfg.optimizer == "sgd":
        return paddle.optimizer.SGD(**common)
    if cfg.optimizer == "momentum":
        return paddle.optimizer.Momentum(momentum=cfg.momentum, **common)
    if cfg.optimizer == "adagrad":
        return paddle.optimizer.Adagrad(**common)
    return paddle.optimizer.Adam(**common)


def advance_schedule(optimizer) -> None:
    """One step of the learning-rate schedule, if the optimizer has one."""
    if isinstance(optimizer._learning_rate, paddle.optimizer.lr.LRScheduler):
        optimizer._learning_rate.step()
