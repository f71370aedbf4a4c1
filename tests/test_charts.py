"""Charts worth reading: round ticks on whole rows, a history that keeps every spike, smoothing
that does not depend on the run's length, and the Validation tab's accuracy and loss panels."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from helpers import wait_for
from scripted import evaluations_events, write_run

from mnist_tui.run import events as ev
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.history import SMOOTHING_LEVELS, History
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.widgets.charts import AccuracyChart, GapChart, HistoryChart, LossChart
from mnist_tui.tui.widgets.ticks import nice_step, row_axis, span_ticks

BRAILLE = re.compile("[\u2801-\u28ff]")  # a braille cell with at least one dot


# ---- ticks ----
@pytest.mark.parametrize(("low", "high", "rows"), [(0.0368, 3.31, 9), (96.7, 99.14, 9), (0.5, 0.5, 7),
                                                    (-0.33, 0.26, 7), (0.07, 2.35, 30), (1e-4, 3e-4, 12)])
def test_y_ticks_are_round_cover_the_data_and_fall_on_evenly_spaced_rows(low, high, rows):
    axis = row_axis(low, high, rows)
    assert axis.low <= low and axis.high >= high
    assert len(axis.ticks) >= 3
    steps = {round(b - a, 12) for a, b in zip(axis.ticks, axis.ticks[1:])}
    assert len(steps) == 1
    (step,) = steps
    assert step == pytest.approx(nice_step(step))  # 1, 2 or 5 times a power of ten
    per_row = (axis.high - axis.low) / (rows - 1)
    positions = [(t - axis.low) / per_row for t in axis.ticks]
    assert all(p == pytest.approx(round(p), abs=1e-6) for p in positions)  # each tick on a row
    assert len({round(b - a, 6) for a, b in itertools.pairwise(positions)}) == 1  # evenly spaced rows
    assert [float(label) for label in axis.labels] == pytest.approx(axis.ticks)


def test_the_80x24_loss_axis_that_read_3_31_2_79_2_27_1_24_now_reads_round_numbers():
    assert row_axis(0.0368, 3.31, 9).labels == ["0", "1", "2", "3", "4"]
    assert nice_step(0.13) == 0.2 and nice_step(3) == 5 and nice_step(0.001) == pytest.approx(0.001)


def test_x_ticks_stay_inside_the_data_and_are_round():
    axis = span_ticks(0.0, 1.49, 8)
    assert axis.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2", "1.4"]
    assert (axis.low, axis.high) == (0.0, 1.49)


# ---- history ----
def test_history_stays_bounded_and_spans_the_run():
    history = History(max_points=100)
    for i in range(100_000):
        history.add(i, float(i))
    buckets = history.all_buckets()
    assert 50 <= len(buckets) <= 101 and history.count == 100_000
    assert buckets[0].low == 0 and buckets[-1].x == 99_999 and buckets[-1].last == 99_999
    assert all(b.low <= b.last <= b.high for b in buckets)
    assert all(a.high < b.low for a, b in itertools.pairwise(buckets))  # buckets do not overlap


def test_a_one_batch_spike_survives_any_run_length():
    for length in (1_000, 10_000, 100_000):
        history = History(max_points=200)
        for i in range(length):
            history.add(i, 9.0 if i == length * 7 // 10 else 0.1)
        (peak,) = [b for b in history.all_buckets() if b.high == 9.0]
        assert peak.low == 0.1 and abs(peak.x - length * 0.7) <= history.stride


def test_smoothing_is_computed_on_every_point_whatever_the_runs_length():
    values = [math.sin(i / 50) + (i % 7) / 10 for i in range(20_000)]
    short, long = History(max_points=20), History(max_points=40_000)
    for i, v in enumerate(values):
        short.add(i, v)
        long.add(i, v)
    level = SMOOTHING_LEVELS.index(0.99)
    by_x = {b.x: b.smoothed[level] for b in long.all_buckets()}
    for bucket in short.all_buckets():
        assert bucket.smoothed[level] == pytest.approx(by_x[bucket.x])
    avg = 0.0  # a debiased exponential average, computed here directly
    for t, v in enumerate(values, start=1):
        avg = 0.99 * avg + 0.01 * v
    assert short.all_buckets()[-1].smoothed[level] == pytest.approx(avg / (1 - 0.99**len(values)))


def test_smoothing_is_debiased_and_level_zero_is_the_raw_value():
    history = History()
    for i in range(20):
        history.add(i, 5.0)
    assert all(s == pytest.approx(5.0) for s in history.all_buckets()[0].smoothed)  # no pull towards 0
    history.add(20, 1.0)
    assert history.all_buckets()[-1].smoothed[SMOOTHING_LEVELS.index(0.0)] == 1.0


def test_history_marks_non_finite_points_apart():
    history = History(max_points=10)
    for i, v in enumerate([1.0, float("nan"), 2.0, float("inf")]):
        history.add(i, v)
    assert list(history.nonfinite_xs) == [1, 3]
    assert [b.last for b in history.all_buckets()] == [1.0, 2.0]


# ---- on screen ----
def chart_lines(chart) -> list[str]:
    return [chart.render_line(y).text for y in range(chart.size.height)]


async def shown(pilot, key: str) -> RunScreen:
    """The run view with its log read, on tab `key`, its charts drawn now."""
    screen = next(s for s in pilot.app.screen_stack if isinstance(s, RunScreen))
    await wait_for(pilot, lambda: screen.status.ended and screen.reading is None, "the log read")
    await pilot.press(key)
    screen._charts_dirty |= {"history-chart", "validation-chart"}
    screen._replot()
    await pilot.pause()
    return screen


@pytest.mark.anyio
@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_spike_in_a_100000_batch_history_shows_on_the_training_chart(spike_run, size):
    app = MnistApp(spike_run.parent, RunController(spike_run))
    async with app.run_test(size=size) as pilot:
        screen = await shown(pilot, "1")
        lines = chart_lines(screen.query_one(HistoryChart))
        frame = next(line for line in lines if "┌" in line)
        left, right = frame.index("┌"), frame.index("┐")
        by_tick = {float(m[1]): m.string for m in (re.match(r"^\s*([\d.]+)┤", line) for line in lines) if m}
        spike = [c for c in range(left + 1, right) if BRAILLE.match(by_tick[4.0][c])]  # the row of the 4 tick
        assert spike, "\n".join(lines)
        # Only the spike reaches 4, 70 % of the way along the 100 epochs' axis.
        assert all(abs((c - left) / (right - left) - 0.7) < 0.03 for c in spike), "\n".join(lines)


@pytest.mark.anyio
async def test_validation_tab_draws_accuracy_gap_and_loss_apart_with_the_newest_values(tmp_path):
    run = write_run(tmp_path, "evals", evaluations_events(24))
    app = MnistApp(tmp_path, RunController(run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot, "3")
        acc = "\n".join(chart_lines(screen.query_one(AccuracyChart)))
        gap = "\n".join(chart_lines(screen.query_one(GapChart)))
        loss = "\n".join(chart_lines(screen.query_one(LossChart)))
        last = screen.state.evals[-1]
        assert f"{100 * last.acc:.2f}" in acc and f"{100 * last.train_acc:.2f}" in acc
        assert f"{100 * last.gap:+.2f}" in gap  # in points, as the table has it
        assert f"{last.loss:.4f}" in loss and f"{last.train_loss:.4f}" in loss
        # Each panel has its own scale: accuracy in % (96.7 .. 99.1), the gap around 0, loss below 1.
        acc_ticks, gap_ticks, loss_ticks = ([float(t) for t in re.findall(r"^\s*(-?[\d.]+)[┤├]", text, re.MULTILINE)]
                                            for text in (acc, gap, loss))
        assert min(acc_ticks) >= 90 and max(acc_ticks) <= 100, acc
        assert min(gap_ticks) < 0 < max(gap_ticks) <= 1, gap
        assert max(loss_ticks) < 1, loss


@pytest.mark.anyio
async def test_a_loop_that_validates_only_gets_no_gap_panel_and_no_train_in_its_legends(tmp_path):
    events = [*evaluations_events(2)[:2], ev.EvalResult("val", 0, 24, 24, 0.21, 0.93, size=1000),
              ev.EvalResult("val", 0, 49, 49, 0.15, 0.95, size=1000), ev.Finished("done")]
    app = MnistApp(tmp_path, RunController(write_run(tmp_path, "monitored", events)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await shown(pilot, "3")
        assert screen.query_one(AccuracyChart).display and not screen.query_one(GapChart).display
        legends = " ".join(str(s.render()) for s in screen.query(".chart-legend") if s.display)
        assert "validation" in legends and "train" not in legends, legends
        assert "95.00" in "\n".join(chart_lines(screen.query_one(AccuracyChart)))
