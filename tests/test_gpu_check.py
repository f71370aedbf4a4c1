"""`make gpu-check` cannot meet a GPU here: its comparison is checked against the CPU itself, and
its answer on a build without CUDA."""

from __future__ import annotations

import io

import paddle
import pytest

from tools import gpu_check


def test_the_check_compares_step_by_step_and_agrees_with_itself_on_the_cpu():
    out = io.StringIO()
    assert gpu_check.main(["--device", "cpu", "--steps", "3", "--images", "640"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "device: CPU"
    rows = [line.split() for line in lines[3:6]]
    assert [row[0] for row in rows] == ["0", "1", "2"] and all(row[1] == row[2] for row in rows)
    assert "first 3 losses agree" in lines[-1]


@pytest.mark.skipif(paddle.device.is_compiled_with_cuda(), reason="this Paddle build has CUDA")
def test_without_cuda_it_says_so_with_status_2():
    out = io.StringIO()
    assert gpu_check.main([], out=out) == 2
    assert "this Paddle build has no CUDA" in out.getvalue()
