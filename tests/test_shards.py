"""A batch split over cores (engine/shards.py) must train exactly like the whole batch in one piece."""

from __future__ import annotations

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from mnist_tui.engine.model import MnistCNN
from mnist_tui.engine.session import Session
from mnist_tui.engine.shards import Shards
from mnist_tui.errors import UsageError
from mnist_tui.run import events as ev
from mnist_tui.run.config import TrainConfig


def batch(mnist, n):
    return paddle.to_tensor(mnist.train.images[:n]), paddle.to_tensor(mnist.train.labels[:n, None])


def twin_models(count):
    paddle.seed(3)
    model, reference = MnistCNN(), MnistCNN()
    reference.set_state_dict(model.state_dict())
    replicas = [MnistCNN() for _ in range(count - 1)]  # fresh weights: Shards must copy the model's in
    return model, reference, replicas


@pytest.mark.parametrize(("count", "n"), [(2, 64), (2, 37), (3, 64)])
def test_sharded_gradient_equals_the_whole_batch(mnist, count, n):
    model, reference, replicas = twin_models(count)
    shards = Shards(model, replicas, "cpu")
    x, y = batch(mnist, n)
    loss, acc = shards.forward_backward(x, y)
    logits = reference(x)
    ref_loss = F.cross_entropy(logits, y)
    ref_loss.backward()
    assert float(loss) == pytest.approx(float(ref_loss), rel=1e-5)
    assert float(acc) == pytest.approx(float(paddle.metric.accuracy(logits, y)), abs=1e-6)
    for (name, param), ref in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(param.grad.numpy(), ref.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    shards.close()


@pytest.mark.parametrize("n", [1, 2, 999])
def test_sharded_evaluation_equals_one_piece(mnist, n):
    model, _, replicas = twin_models(2)
    x, y = batch(mnist, n)
    one = Shards(model, [], "cpu").per_image(x, y).numpy()
    assert one.shape == (n, 3)
    two = Shards(model, replicas, "cpu")
    np.testing.assert_allclose(two.per_image(x, y).numpy(), one, rtol=1e-5)  # same images in the same order
    two.close()  # after a run: the model alone still evaluates
    np.testing.assert_allclose(two.per_image(x, y).numpy(), one, rtol=1e-5)


def run_losses(mnist, tmp_path, shards):
    cfg = TrainConfig(epochs=1, train_limit=640, val_limit=500, test_limit=100, shards=shards, seed=2,
                      metrics_interval_s=0.0)
    session = Session.new(cfg, tmp_path / f"shards{shards}", data=mnist)
    events = []
    session.bus.subscribe(events.append)
    trainer = session.make_trainer()
    assert session.run_trainer() == "done"
    session.close()
    losses = [e.loss for e in events if isinstance(e, ev.BatchMetrics)]
    val = next(e for e in events if isinstance(e, ev.EvalResult) and e.split == "val")
    return trainer, losses, val


def test_trainer_with_two_shards_follows_the_same_trajectory(mnist, tmp_path):
    one, losses_one, val_one = run_losses(mnist, tmp_path, shards=1)
    two, losses_two, val_two = run_losses(mnist, tmp_path, shards=2)
    assert one.shard_count == 1 and two.shard_count == 2
    assert len(losses_two) == len(losses_one) == 10
    np.testing.assert_allclose(losses_two, losses_one, rtol=1e-3)  # 10 Adam steps: only rounding differs
    assert val_two.loss == pytest.approx(val_one.loss, rel=1e-3)
    assert val_two.acc == pytest.approx(val_one.acc, abs=0.004)  # at most 2 of 500 images flip
    assert "each batch split over 2 cores" in two.device_name


def test_shards_refused_where_they_do_not_apply(mnist, tmp_path):
    session = Session.new(TrainConfig(train_limit=640, shards=2, to_static=True), tmp_path, data=mnist)
    with pytest.raises(UsageError, match="--shards"):
        session.make_trainer()
