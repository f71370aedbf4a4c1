"""The snapshot view: kernels as numbers, feature maps as heat maps, sample 0's logits and softmax.

Heat maps pack two pixel rows into one cell with '▀' (top pixel as foreground colour, bottom as
background). Without colour (NO_COLOR, or `h`) they use shade characters, so they stay readable.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..engine.events import NO_LAYER, SnapshotTaken
from .key_bar import KeyBar
from .state import at_index

SHADES = " ░▒▓█"
BAR_WIDTH = 10


def _norm(grid: list[list[float]]) -> list[list[float]]:
    flat = [v for row in grid for v in row if math.isfinite(v)]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    span = hi - lo or 1.0
    return [[(v - lo) / span if math.isfinite(v) else 0.0 for v in row] for row in grid]


def _colour(t: float) -> str:
    """Dark blue → red → yellow, a heat scale that also reads as dark → bright."""
    r = int(255 * min(1.0, 2 * t))
    g = int(255 * max(0.0, 2 * t - 1))
    b = int(120 * (1 - t))
    return f"rgb({r},{g},{b})"


def heatmap(grid: list[list[float]], colour: bool = True) -> Text:
    rows = _norm(grid)
    if len(rows) % 2:
        rows.append([0.0] * len(rows[0]))
    text = Text()
    for top, bottom in zip(rows[0::2], rows[1::2]):
        for a, b in zip(top, bottom):
            if colour:
                text.append("▀", style=f"{_colour(a)} on {_colour(b)}")
            else:
                text.append(SHADES[min(len(SHADES) - 1, int((a + b) / 2 * len(SHADES)))])
        text.append("\n")
    text.rstrip()
    return text


def kernel_text(title: str, kernel: list[list[float]]) -> str:
    return title + "\n" + "\n".join(" ".join(f"{v:+.3f}" for v in row) for row in kernel)


def vector_text(title: str, values: list[float], shown: int = 16) -> str:
    """The first `shown` values, eight to a line."""
    cells = [f"{v:+.3f}" for v in values[:shown]]
    more = f"\n… {len(values) - shown} more in the .npz" if len(values) > shown else ""
    return title + "\n" + "\n".join(" ".join(cells[i : i + 8]) for i in range(0, len(cells), 8)) + more


def output_bars(snap: SnapshotTaken) -> Text:
    predicted = max(range(len(snap.softmax)), key=lambda i: snap.softmax[i])
    label = f"label {snap.label} ◀, " if snap.label >= 0 else ""  # -1: the loop did not say
    text = Text(f"sample 0: {label}predicted {predicted}\n  logit    softmax\n")
    for i, (logit, prob) in enumerate(zip(snap.logits, snap.softmax)):
        cells = prob * BAR_WIDTH
        bar = "█" * int(cells) + ("▌" if cells - int(cells) >= 0.5 else "")
        mark = " ◀" if i == snap.label else ""
        style = "bold" if i == snap.label else ""
        text.append(f"{i} {logit:+7.2f} {bar:<{BAR_WIDTH}} {100 * prob:5.1f}%{mark}\n", style=style)
    text.rstrip()
    return text


class SnapshotScreen(Screen):
    BINDINGS: ClassVar = [
        Binding("escape", "app.pop_screen", "Back", key_display="Esc"),
        # priority: the scrolled body's own left/right would take them (and hide them from the key bar)
        Binding("left", "browse(-1)", "Older", priority=True),
        Binding("right", "browse(1)", "Newer", priority=True),
        Binding("h", "toggle_shades", "Colour/shades"),
    ]

    def __init__(self, snapshots: list[SnapshotTaken], index: int) -> None:
        super().__init__()
        self.snapshots = snapshots
        self.index = index
        self.shades = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="snapshot-body"):
            yield Static(id="snapshot-title")
            with Horizontal(classes="snapshot-row"):
                yield Static(id="conv1-kernel", classes="kernel")
                yield Static(id="conv2-kernel", classes="kernel")
            with Horizontal(classes="snapshot-row"):
                yield Static(id="conv1-map", classes="heatmap")
                yield Static(id="conv2-map", classes="heatmap")
                yield Static(id="output-bars")
        yield KeyBar()

    def on_mount(self) -> None:
        self.shades = self.app.no_color
        self.show()

    def show(self) -> None:
        snap = self.snapshots[self.index]
        colour = not self.shades
        scale = "dark → bright = low → high" if self.shades else "blue → yellow = low → high"
        of = f" of {snap.picked}" if snap.picked else ""
        self.query_one("#snapshot-title", Static).update(Content.from_markup(
            f"[b]Snapshot {self.index + 1}/{len(self.snapshots)}$of[/b]: {at_index(snap.epoch, snap.batch)} "
            f"(step {snap.step}) │ maps: {scale}\nsaved as snapshots/$file in the run folder",
            of=of, file=Path(snap.path).name))
        for slot, name, kernel, channel, grid in (("conv1", snap.conv1_name, snap.conv1_kernel, snap.conv1_channel,
                                                    snap.conv1_map),
                                                   ("conv2", snap.conv2_name, snap.conv2_kernel, snap.conv2_channel,
                                                    snap.conv2_map)):
            if name == NO_LAYER:  # no convolution there (a linear layer picked, or fewer convolutions)
                self.query_one(f"#{slot}-kernel", Static).update("")
                self.query_one(f"#{slot}-map", Static).update("(no convolution)" if slot == "conv1" else "")
                continue
            self.query_one(f"#{slot}-kernel", Static).update(Content(kernel_text(f"{name}.weight[0][0]", kernel)))
            word = "channel" if slot == "conv1" else "ch"  # the second map is half as wide
            self.query_one(f"#{slot}-map", Static).update(Text(f"{name} {word} {channel}\n") + heatmap(grid, colour))
        if snap.matrix:  # a linear layer picked: its outputs as numbers, its weights as a map
            self.query_one("#conv1-kernel", Static).update(
                Content(vector_text(f"{snap.picked} outputs, sample 0", snap.vector)))
            self.query_one("#conv1-map", Static).update(
                Text(f"{snap.picked}.weight, a row per output\n") + heatmap(snap.matrix, colour))
        self.query_one("#output-bars", Static).update(output_bars(snap))

    def action_browse(self, delta: int) -> None:
        self.index = max(0, min(len(self.snapshots) - 1, self.index + delta))
        self.show()

    def action_toggle_shades(self) -> None:
        self.shades = not self.shades
        self.show()


class ListPicker(ModalScreen):
    """A list to choose from with Enter (the screen answers the choice's value) or leave with Esc."""

    BINDINGS: ClassVar = [Binding("enter", "choose", "Open", key_display="Enter", priority=True),
                          Binding("escape", "app.pop_screen", "Close", key_display="Esc")]

    def __init__(self, heading: str, choices: list[tuple[str, object]], highlighted: int) -> None:
        super().__init__()
        self.heading, self.choices, self.start = heading, choices, highlighted

    def compose(self) -> ComposeResult:
        yield OptionList(*(Option(Content(label)) for label, _ in self.choices), id="snapshot-list")
        yield KeyBar()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.border_title = self.heading
        options.highlighted = self.start
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index][1])

    def action_choose(self) -> None:
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None:
            self.dismiss(self.choices[highlighted][1])


class LayerPicker(ListPicker):
    """S: the layer snapshots show; answers its name ("" for the first two convolutions)."""

    def __init__(self, layers: list[tuple[str, str, dict]], current: str) -> None:
        choices = [("the first two convolutions (default)", "")]
        choices += [(f"{name}  {kind} {'+'.join(str(s).replace(' ', '') for s in shapes.values())}", name)
                    for name, kind, shapes in layers]
        names = [name for _, name in choices]
        super().__init__("Snapshot which layer? (Enter takes one, Esc closes)", choices,
                         names.index(current) if current in names else 0)


class SnapshotPicker(ListPicker):
    """Every snapshot of this session; Enter reopens one (answers its index)."""

    def __init__(self, snapshots: list[SnapshotTaken]) -> None:
        super().__init__("Snapshots (Enter opens, Esc closes)",
                         [(f"#{i + 1}  {at_index(s.epoch, s.batch)}  {Path(s.path).name}", i)
                          for i, s in enumerate(snapshots)], len(snapshots) - 1)
