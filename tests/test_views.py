"""The health map and the mistakes views: pure functions that build rich Texts, no Paddle, no app."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mnist_tui.tui.widgets.health_map import MAX_CELL, METRICS, RAMP, health_map, pick_columns
from mnist_tui.tui.widgets.mistakes_view import (
    NO_MISTAKES,
    confused_pairs,
    confusion_table,
    digit_gallery,
    digit_picture,
    pairs_text,
)

NAMES = ["conv1", "relu1", "fc2"]


def refresh(step: int, **figures) -> SimpleNamespace:
    """One statistics refresh; `figures` maps a layer name to its overrides."""
    layers = []
    for name in NAMES:
        weighted = name != "relu1"
        row = {"name": name, "mean": 0.1, "std": 0.5, "min": 0.0, "max": 1.0, "zero_frac": 0.5,
               "dead_frac": 0.0, "grad_norm": 0.1 if weighted else None,
               "update_ratio_log10": -3.0 if weighted else None}
        row.update(figures.get(name, {}))
        layers.append(row)
    return SimpleNamespace(epoch=step // 10, batch=step % 10 * 100, step=step, layers=layers)


def cells(text, name: str, per_cell: int = MAX_CELL) -> str:
    """The cells of a layer's row, without the name column, one character per refresh (a few
    refreshes get MAX_CELL characters each)."""
    line = next(line for line in text.plain.splitlines() if line.split(" ")[0] == name)
    row = line[len("conv1") + 1:]
    assert all(len(set(row[i:i + per_cell])) == 1 for i in range(0, len(row), per_cell))
    return row[::per_cell]


def test_few_refreshes_get_wider_cells():
    text = health_map([refresh(0), refresh(1)], NAMES, "dead_frac", 80)
    assert len(cells(text, "conv1", per_cell=1)) == 2 * MAX_CELL


def test_empty_history_says_how_to_get_statistics():
    assert health_map([], NAMES, "dead_frac", 80).plain == "No statistics yet: r takes them."


def test_pick_columns_keeps_first_and_last_evenly():
    picked = pick_columns(1000, 50)
    assert len(picked) == 50 and picked[0] == 0 and picked[-1] == 999
    assert sorted(set(picked)) == picked
    gaps = np.diff(picked)
    assert gaps.max() - gaps.min() <= 1
    assert pick_columns(5, 50) == [0, 1, 2, 3, 4]


def test_compressed_map_shows_first_and_last_refresh():
    history = [refresh(s) for s in range(300)]
    history[0] = refresh(0, conv1={"dead_frac": 1.0})
    history[-1] = refresh(299, conv1={"dead_frac": 1.0})
    text = health_map(history, NAMES, "dead_frac", 40)
    row = cells(text, "conv1", per_cell=1)
    assert len(row) == 40 - len("conv1 ")
    assert row[0] == row[-1] == RAMP[-1]
    assert set(row[1:-1]) == {RAMP[0]}
    axis = text.plain.splitlines()[len(NAMES)]
    assert axis.split()[:2] == ["ep", "1"] and axis.endswith("ep 30 b 901")  # counted from 1, as the header does


@pytest.mark.parametrize("width", [20, 33, 80, 200])
@pytest.mark.parametrize("metric", [key for key, _ in METRICS])
def test_no_line_wider_than_width(width, metric):
    history = [refresh(s, conv1={"std": 10.0 ** (s % 7 - 3)}) for s in range(500)]
    for line in health_map(history, NAMES, metric, width).plain.splitlines():
        assert len(line) <= width


def test_missing_and_non_finite_cells_have_their_marks():
    history = [refresh(0), refresh(1, conv1={"grad_norm": math.nan}), refresh(2, fc2={"grad_norm": math.inf})]
    text = health_map(history, NAMES, "grad_norm", 80)
    assert cells(text, "relu1") == "···"
    assert cells(text, "conv1")[1] == "x" and cells(text, "fc2")[2] == "x"
    assert cells(text, "conv1")[0] in RAMP


def test_rows_follow_names_order():
    names = ["fc2", "conv1", "relu1"]
    lines = health_map([refresh(0)], names, "std", 80).plain.splitlines()
    assert [line.split()[0] for line in lines[:3]] == names


def test_log_scale_and_legend_ends():
    history = [refresh(0, conv1={"std": 0.01}, fc2={"std": 1.0}, relu1={"std": 0.1}),
               refresh(1, conv1={"std": 0.0})]
    text = health_map(history, NAMES, "std", 80)
    assert cells(text, "conv1") == RAMP[0] * 2  # the lowest value, then zero: both at the bottom
    assert cells(text, "fc2")[0] == RAMP[-1]
    assert cells(text, "relu1")[0] == RAMP[len(RAMP) // 2]  # 0.1 is half way between 0.01 and 1 on log10
    legend = text.plain.splitlines()[-1]
    assert legend.startswith("activation std  1.0e-02 ") and "1.0e+00" in legend and "m: next figure" in legend


def test_dead_share_scale_is_fixed_and_single_value_sits_in_the_middle():
    text = health_map([refresh(0, conv1={"dead_frac": 0.5})], NAMES, "dead_frac", 80)
    assert cells(text, "conv1") == RAMP[len(RAMP) // 2] and cells(text, "fc2") == RAMP[0]
    assert "dead share  0% " in text.plain and " 100%" in text.plain
    same = health_map([refresh(0)], NAMES, "update_ratio_log10", 80)
    assert cells(same, "conv1") == RAMP[len(RAMP) // 2]


def random_confusion(seed: int = 7) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    matrix = rng.integers(0, 40, size=(10, 10))
    matrix[rng.random((10, 10)) < 0.4] = 0
    np.fill_diagonal(matrix, rng.integers(900, 1100, size=10))
    return matrix.tolist()


def test_confusion_table_fits_and_shows_counts():
    confusion = random_confusion()
    confusion[3][3] = 9999
    lines = confusion_table(confusion).plain.splitlines()
    assert len(lines) == 11 and max(map(len, lines)) <= 56
    assert lines[0].split() == ["pred", *map(str, range(10))]
    for t, line in enumerate(lines[1:]):
        assert line.split() == ["true", str(t), *map(str, confusion[t])]


def test_confusion_table_bolds_the_largest_mistakes():
    confusion = [[0] * 10 for _ in range(10)]
    confusion[4][9], confusion[7][1] = 23, 5
    table = confusion_table(confusion)
    bold = {table.plain[span.start:span.end].strip() for span in table.spans if "bold" in str(span.style)
            and "on rgb" in str(span.style)}
    assert "23" in bold and "5" in bold


def test_confused_pairs_match_numpy():
    confusion = random_confusion()
    matrix = np.array(confusion)
    off = [(t, p) for t in range(10) for p in range(10) if t != p and matrix[t, p] > 0]
    counts = np.array([matrix[t, p] for t, p in off])
    order = np.argsort(-counts, kind="stable")[:8]  # `off` is in (true, pred) order, so ties stay in it
    assert confused_pairs(confusion) == [(*off[i], int(counts[i])) for i in order]


def test_confused_pairs_skip_zeros_and_break_ties_by_position():
    confusion = [[0] * 10 for _ in range(10)]
    confusion[5][3] = confusion[2][8] = confusion[2][1] = 4
    confusion[0][0] = 50
    assert confused_pairs(confusion) == [(2, 1, 4), (2, 8, 4), (5, 3, 4)]


def test_pairs_text_lines():
    confusion = [[0] * 10 for _ in range(10)]
    confusion[4][4], confusion[4][9] = 977, 23
    assert pairs_text(confusion).plain.splitlines() == ["Most confused", "true→pred  n  %", "4 → 9   23  2.3"]


def pattern_image() -> np.ndarray:
    """Each pixel's grey tells where it is, so a cell's colours can be checked against it."""
    rows, cols = np.mgrid[0:28, 0:28]
    return (rows * 9 + cols % 9).astype(np.uint8)


def test_digit_picture_packs_two_pixel_rows_per_line():
    image = pattern_image()
    picture = digit_picture(image.tobytes().hex())
    lines = picture.plain.splitlines()
    assert len(lines) == 14 and all(line == "▀" * 28 for line in lines)
    for row, col in [(0, 0), (5, 17), (13, 27)]:
        offset = row * 29 + col  # 28 cells and a newline per line
        style = next(span.style for span in picture.spans if span.start == offset)
        assert style.color.triplet == (image[2 * row, col],) * 3
        assert style.bgcolor.triplet == (image[2 * row + 1, col],) * 3


def mistakes(count: int) -> list[dict]:
    image = pattern_image().tobytes().hex()
    return [{"index": 1000 + i, "label": 4, "pred": 9, "confidence": 0.87, "image": image} for i in range(count)]


@pytest.mark.parametrize(("width", "per_row"), [(30, 1), (80, 2), (120, 4)])
def test_gallery_fits_pictures_to_width(width, per_row):
    lines = digit_gallery(mistakes(8), width).plain.splitlines()
    assert max(map(len, lines)) <= width
    assert lines[0] == "  ".join(["▀" * 28] * per_row)
    rows = -(-8 // per_row)
    assert len(lines) == rows * 15 + rows - 1  # 14 picture lines and a caption, a blank line between
    assert lines[14].split("  ")[0] == "#1000 true 4 → 9 (87%)"
    assert lines[14].count("#") == per_row


def test_gallery_without_mistakes():
    assert digit_gallery([], 80).plain == NO_MISTAKES
