"""The Training tab redraws without leaving cells of an earlier frame behind.

Textual sends the terminal only what changed (its partial updates). These tests replay every update
the app sends onto a grid of cells, as a terminal would, and after each fed frame compare that grid
(characters and styles) with a fresh full repaint of the same screen: any cell a redraw left behind
differs. They feed the Training tab alone (no Paddle, no run folder), as the run screen's `_frame`
does: fold events into a RunState, then `show_metrics` and `write_log` in one batch update.

Reported: two "stray sparkline cells" (`▅▅`, `▆▆`) at the right end of the log's second line. They
were the log's vertical scrollbar: Textual draws a thumb's fractional top edge with the block glyphs
sparklines use (▁▂▃▄▅▆▇), once per scrollbar column, and the rest of the thumb as reverse-video
spaces, so a text-only capture showed just the two glyphs. The app now draws thumbs in whole cells
(app.py, WholeCellScrollBar; tested in test_app.py). These tests rely on Textual internals (the
compositor's updates), so a Textual upgrade may need them adjusted.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import wait_for
from rich.cells import cell_len
from rich.segment import ControlType
from scripted import fixed_events
from textual._compositor import CompositorUpdate, LayoutUpdate
from textual.app import App, ComposeResult
from textual.scrollbar import ScrollBarRender
from textual.widgets import Log

import mnist_tui.tui
from mnist_tui.run import events as ev
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.live_figures import LiveFigures
from mnist_tui.tui.widgets.training_tab import TrainingTab

CSS = Path(mnist_tui.tui.__file__).with_name("app.tcss")
EDGE_GLYPHS = set(ScrollBarRender.VERTICAL_BARS) - {" "}


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Cells:
    """A terminal's cells: what it shows after the updates written to it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[object]] = [[None] * width for _ in range(height)]
        self.outside: list[tuple[int, int]] = []  # writes past the screen's edges

    def write(self, console, update: CompositorUpdate) -> None:
        x = y = 0
        for segment in console.render(update):
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]
                continue
            for char in segment.text:
                if char == "\n":
                    x, y = 0, y + 1
                    continue
                if 0 <= x < self.width and 0 <= y < self.height:
                    self.chars[y][x], self.styles[y][x] = char, segment.style
                else:
                    self.outside.append((x, y))
                x += max(1, cell_len(char))

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.chars]


class TrainingTabApp(App):
    """The Training tab alone, with the app's stylesheet; keeps the cells a terminal would show."""

    CSS_PATH = CSS

    def __init__(self) -> None:
        super().__init__()
        self.terminal: Cells | None = None

    def compose(self) -> ComposeResult:
        yield TrainingTab()

    def _display(self, screen, renderable) -> None:
        if isinstance(renderable, CompositorUpdate) and not self._batch_count:
            if isinstance(renderable, LayoutUpdate):  # a full repaint: a new screen size starts here
                size = renderable.region.size
                if self.terminal is None or (self.terminal.width, self.terminal.height) != tuple(size):
                    self.terminal = Cells(*size)
            if self.terminal is not None:
                self.terminal.write(self.console, renderable)
        super()._display(screen, renderable)

    def fresh(self) -> Cells:
        """The same screen repainted in full, every widget (scrollbars too) rendered anew from what
        it holds now: cached lines of a widget that missed a refresh do not hide it."""
        for widget in self.screen._compositor.visible_widgets:
            widget._styles_cache.clear()
        cells = Cells(*self.size)
        cells.write(self.console, self.screen._compositor.render_update(full=True))
        return cells


def settled(app: TrainingTabApp) -> bool:
    """Everything asked for is drawn: no layout, repaint or dirty region pending, no worker
    (the log measures its lines' width in a thread) still running."""
    screen = app.screen
    return (app.terminal is not None and not app._batch_count
            and not (screen._layout_required or screen._scroll_required or screen._repaint_required
                     or screen._recompose_required or screen._dirty_widgets or screen._compositor._dirty_regions)
            and all(worker.is_finished for worker in app.workers))


def differences(app: TrainingTabApp) -> list[str]:
    shown, fresh = app.terminal, app.fresh()
    out = [f"written past the screen at {shown.outside[:4]}"] if shown.outside else []
    for y in range(fresh.height):
        for x in range(fresh.width):
            if (shown.chars[y][x], shown.styles[y][x]) != (fresh.chars[y][x], fresh.styles[y][x]):
                out.append(f"({x}, {y}): shows {shown.chars[y][x]!r} {shown.styles[y][x]}, "
                           f"a full repaint {fresh.chars[y][x]!r} {fresh.styles[y][x]}")
    return out


def frames() -> list[list[ev.Event]]:
    """The fixed run's events a few at a time, then more batches whose figures change width
    (losses from 0.0x to 1000, a non-finite one, log lines short and long): sparklines grow and
    rescale, numbers widen and narrow, the log scrolls and its scrollbar thumb shrinks."""
    events = fixed_events()
    out = [events[i:i + 7] for i in range(0, len(events), 7)]
    step = 150
    for n in range(40):
        batch = []
        for _ in range(9):
            loss = float("nan") if n == 17 else 10 ** ((n % 5) - 1.5) * (1 + math.sin(step))
            batch.append(ev.BatchMetrics(step // 100, step % 100, step, loss, (step % 97) / 97, 600.0, step / 10))
            step += 1
        if n % 3 == 0:
            batch.append(ev.StatusChanged("running", "x" * (5 + 37 * (n % 4))))
        out.append(batch)
    return out


async def feed(pilot, app: TrainingTabApp, check) -> int:
    """Feed the frames as the run screen does; call `check(count)` once each frame is drawn."""
    state, tab = RunState(), app.query_one(TrainingTab)
    for count, batch in enumerate(frames(), start=1):
        state.apply(batch)
        with app.batch_update():
            tab.show_metrics(state)
            if state.new_log_lines:
                tab.write_log(state.new_log_lines)
                state.new_log_lines = []
        await wait_for(pilot, lambda: drawn(app, state), f"frame {count} drawn")
        check(count)
    return count


def drawn(app: TrainingTabApp, state: RunState) -> bool:
    """The screen is settled and shows `state`: the newest loss figure and the newest log line."""
    if not settled(app):
        return False
    lines, log = app.terminal.lines(), app.query_one(Log)
    loss = state.loss_window.current
    if loss is not None and not any(f"now {loss:.4f}" in line for line in lines):
        return False
    if not state.log_lines:
        return True
    newest = state.log_lines[-1][:10]
    return len(log.raw_lines) == len(state.log_lines) and any(line.startswith(newest) for line in lines[log.region.y:])


@pytest.mark.anyio
@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_no_cell_of_an_earlier_frame_is_left_behind(size):
    app = TrainingTabApp()
    async with app.run_test(size=size) as pilot:
        app.set_class(size[1] >= 40, "-tall")  # as MnistApp does: 7-row live figures
        figures_height = 7 if size[1] >= 40 else 3
        await wait_for(pilot, lambda: settled(app) and app.query_one(LiveFigures).size.height == figures_height,
                       "first paint")

        def check(count: int) -> None:
            wrong = differences(app)
            assert not wrong, f"frame {count} at {size}: {len(wrong)} cells differ\n" + "\n".join(wrong[:10])

        assert await feed(pilot, app, check) > 40
