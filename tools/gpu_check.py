"""`make gpu-check`: a short run on the GPU, for a user who has one (this project's own machines
do not). It prints the device, the GPU's images/s, and the first steps' losses next to the CPU's
on the same batches and weights: they agree to float32 rounding when the GPU path is right.

    python -m tools.gpu_check [--steps 20] [--images 6400] [--device gpu:0]

Exit status 0: checked and close; 1: the losses differ more than --tolerance; 2: no GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from mnist_tui.engine.data import load_mnist
from mnist_tui.engine.device import DeviceError
from mnist_tui.engine.session import Session
from mnist_tui.run.config import TrainConfig
from mnist_tui.run.events import BatchMetrics


def run(device: str, images: int, data, runs_dir: str, steps: int = 0) -> tuple[list[float], float, str]:
    """Train on the first `images` images on `device` (no augmentation, one process, a metric every
    batch), only `steps` batches if set; return the batch losses, images/s after the first batch,
    and the device's description."""
    cfg = TrainConfig(epochs=1, device=device, shift=0, train_limit=images, val_limit=500,
                      test_limit=500, metrics_interval_s=0.0, stats_every=0, checkpoint_every_epoch=False,
                      checkpoint_minutes=0)
    session = Session.new(cfg, runs_dir, data=data)
    losses, times = [], []
    session.bus.subscribe(lambda e: (losses.append(e.loss), times.append(time.perf_counter()))
                          if isinstance(e, BatchMetrics) else None)
    trainer = session.make_trainer()
    if steps:
        session.bus.subscribe(lambda e: trainer.stop() if len(losses) >= steps else None)
    session.run_trainer()
    session.close()
    rate = (len(times) - 1) * cfg.batch_size / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    return losses, rate, trainer.device_name


def main(argv: list[str] | None = None, out=None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m tools.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="gpu", help="the device to check (default gpu; cpu checks the check)")
    parser.add_argument("--steps", type=int, default=20, help="first steps compared with the CPU")
    parser.add_argument("--images", type=int, default=6400, help="images trained on the device for images/s")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest relative loss difference accepted")
    args = parser.parse_args(argv)
    data = load_mnist()
    with tempfile.TemporaryDirectory(prefix="mnist-tui-gpu-check-") as runs:
        try:
            losses, rate, name = run(args.device, args.images, data, runs)
        except DeviceError as exc:
            print(f"gpu-check: {exc}", file=out)
            return 2
        cpu, cpu_rate, _ = run("cpu", args.images, data, runs, steps=args.steps)
    steps = min(args.steps, len(cpu), len(losses))
    print(f"device: {name}", file=out)
    print(f"images/s: {rate:.0f} on the device, {cpu_rate:.0f} on the CPU (one process)", file=out)
    print("step  device loss   cpu loss   relative difference", file=out)
    worst = 0.0
    for step in range(steps):
        diff = abs(losses[step] - cpu[step]) / max(abs(cpu[step]), 1e-12)
        worst = max(worst, diff)
        print(f"{step:4d}  {losses[step]:.6f}   {cpu[step]:.6f}   {diff:.2e}", file=out)
    verdict = "agree" if worst <= args.tolerance else "DIFFER"
    print(f"first {steps} losses {verdict}: largest relative difference {worst:.2e} (tolerance {args.tolerance:g})",
          file=out)
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
