"""Which device a run trains on; checked before a run folder is made, so a refusal leaves nothing behind."""

from __future__ import annotations

import paddle

from mnist_tui.errors import UsageError


class DeviceError(UsageError):
    """The requested device is not available."""


def choose_device(spec: str, amp: bool = False) -> tuple[str, str]:
    """Return (paddle device string, human description). `auto` falls back to the CPU."""
    device, name = _choose(spec)
    if amp and device == "cpu":
        raise DeviceError("--amp: mixed precision needs a GPU (float16); this run is on the CPU")
    return device, name


def _choose(spec: str) -> tuple[str, str]:
    has_cuda = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if spec == "cpu":
        return "cpu", "CPU"
    if spec == "auto" and not has_cuda:
        return "cpu", "CPU (auto: no CUDA GPU visible)"
    if not paddle.device.is_compiled_with_cuda():
        raise DeviceError(f"--device {spec}: this Paddle build has no CUDA (install paddlepaddle-gpu)")
    count = paddle.device.cuda.device_count()
    index = int(spec.split(":")[1]) if ":" in spec else 0
    if index >= count:
        raise DeviceError(f"--device {spec}: {count} GPU(s) visible")
    return f"gpu:{index}", f"gpu:{index} ({paddle.device.cuda.get_device_name(index)})"


def describe_ranks(device: str, name: str, world: int) -> str:
    """`name` (from choose_device) for `world` ranks, e.g. "CPU ×2 ranks (auto: no CUDA GPU visible;
    paddle.DataParallel over gloo)"; unchanged for one."""
    if world < 2:
        return name
    reason = name.partition("(")[2].rstrip(")")
    engine = f"paddle.DataParallel over {'nccl' if device != 'cpu' else 'gloo'}"
    return f"{name.partition(' (')[0]} ×{world} ranks ({reason + '; ' if reason else ''}{engine})"
