"""One training step, `step(x, y) -> (loss, acc)` device tensors, in one of four kinds: a rank of
`paddle.DataParallel` (its gradients averaged from Python by default, see ranks.py), plain dygraph, the
forward compiled by `paddle.jit.to_static`, or float16 automatic mixed precision on a GPU.

Each step clears the gradients before it, not after, so they stay readable for layer statistics,
and advances the learning-rate schedule after the optimizer's step.
"""

from __future__ import annotations

import time

import paddle
import paddle.nn.functional as F

from mnist_tui.engine import ranks
from mnist_tui.engine.metric_buffer import ALLREDUCE_S, MetricBuffer
from mnist_tui.engine.optim import advance_schedule
from mnist_tui.errors import UsageError
from mnist_tui.run.config import TrainConfig


def check_options(cfg: TrainConfig, world: int) -> None:
    """The kinds of step that do not mix (yet)."""
    if world > 1 and (cfg.to_static or cfg.amp):
        raise UsageError("--nproc above 1 does not take --to-static or --amp yet")


def make_step(cfg: TrainConfig, model, optimizer, dp=None, link=None, rows: tuple[int, int] = (0, 0),
              world: int = 1, metrics: MetricBuffer | None = None):
    """The step for these settings. `dp`, `link`: this rank's paddle.DataParallel and ranks.Link with
    several ranks, whose `rows` of each batch it trains (its all-reduce time goes to `metrics`)."""
    if dp is not None:
        return _rank_step(cfg, model, optimizer, dp, link, rows, world, metrics)

    def forward(x, y):
        logits = model(x)
        return F.cross_entropy(logits, y), paddle.metric.accuracy(logits, y)

    if cfg.to_static:
        # Compiles the forward pass (loss and accuracy fused in one graph); backward runs the
        # generated backward program.
        forward = paddle.jit.to_static(forward, full_graph=True)

    if not cfg.amp:
        def step(x, y):
            optimizer.clear_grad()
            loss, acc = forward(x, y)
            loss.backward()
            optimizer.step()
            advance_schedule(optimizer)
            return loss, acc

        return step

    # GPU only (device.choose_device checks it): float16 compute with dynamic loss scaling.
    scaler = paddle.amp.GradScaler(init_loss_scaling=2.0**15)

    def amp_step(x, y):
        optimizer.clear_grad()
        with paddle.amp.auto_cast():
            loss, acc = forward(x, y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        advance_schedule(optimizer)
        return loss, acc

    return amp_step


def _rank_step(cfg: TrainConfig, model, optimizer, dp, link, rows: tuple[int, int], world: int,
               metrics: MetricBuffer):
    lo, hi = rows
    share = (hi - lo) / cfg.batch_size  # of the global batch: the loss is weighted by it

    if ranks.gradient_sync() == ranks.BUCKETS:
        def bucketed_step(x, y):
            """DataParallel's own hooks average the gradients during the backward pass (a lost rank
            aborts the process: see ranks.py); no all-reduce time of their own to report."""
            optimizer.clear_grad()
            logits = dp(x)
            loss, acc = F.cross_entropy(logits, y), paddle.metric.accuracy(logits, y)
            (loss * (share * world)).backward()
            optimizer.step()
            advance_schedule(optimizer)
            return loss, acc

        return bucketed_step

    def step(x, y):
        optimizer.clear_grad()
        with dp.no_sync():  # averaged below, from Python (see ranks.py)
            logits = dp(x)
            loss, acc = F.cross_entropy(logits, y), paddle.metric.accuracy(logits, y)
            (loss * (share * world)).backward()
        begin = time.perf_counter()
        link.average_gradients(model.parameters())
        metrics.add_time(ALLREDUCE_S, time.perf_counter() - begin)
        optimizer.step()
        advance_schedule(optimizer)
        return loss, acc

    return step
