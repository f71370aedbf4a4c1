"""The snapshot view: whatever panels a snapshot has (engine/snapshot.py): kernels and a linear
layer's outputs as numbers, feature maps and weight matrices as heat maps, and the network's
output for sample 0 (softmax and the predicted class for a classification only).

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
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from mnist_tui.run.events import SnapshotTaken
from mnist_tui.sinks.course_log import at_index
from mnist_tui.tui.widgets.heatmap import heatmap
from mnist_tui.tui.widgets.key_bar import KeyBar

BAR_WIDTH = 10


def kernel_text(title: str, kernel: list[list[float]]) -> str:
    return title + "\n" + "\n".join(" ".join(f"{v:+.3f}" for v in row) for row in kernel)


def vector_text(title: str, values: list[float], size: int | None = None, shown: int = 16) -> str:
    """The first `shown` values, eight to a line; `size`: how many there are in all."""
    size = len(values) if size is None else size
    cells = [f"{v:+.3f}" for v in values[:shown]]
    more = f"\n… {size - len(cells)} more in the .npz" if size > len(cells) else ""
    return title + "\n" + "\n".join(" ".join(cells[i : i + 8]) for i in range(0, len(cells), 8)) + more


def output_text(panel: dict, label: int) -> Text:
    """The network's output for sample 0: scores with softmax and the predicted class for a
    classification; otherwise the value, or the values."""
    what = f"output{panel.get('element', '')}"
    values = panel.get("array", [])
    if not panel.get("classification"):
        if panel.get("size", len(values)) == 1 and values:
            return Text(f"sample 0: {what} {values[0]:.4g}" + (f"\ntarget {label}" if label >= 0 else ""))
        return Text(vector_text(f"sample 0: {what}, shape {panel.get('shape', [])}", values, panel.get("size")))
    softmax = panel.get("softmax", [])
    rows = range(len(softmax))
    if len(softmax) > 10:  # many classes: the ten most likely
        rows = sorted(rows, key=lambda i: -softmax[i])[:10]
    given = f"label {label} ◀, " if label >= 0 else ""  # -1: the loop did not say
    probabilities = panel.get("probabilities", False)
    text = Text(f"sample 0: {given}predicted {panel.get('predicted', 0)}\n")
    text.append(f"  {what} (probabilities)\n" if probabilities else "  logit    softmax\n")
    for i in rows:
        prob = softmax[i]
        cells = prob * BAR_WIDTH if math.isfinite(prob) else 0
        bar = "█" * int(cells) + ("▌" if cells - int(cells) >= 0.5 else "")
        mark = " ◀" if i == label else ""
        style = "bold" if i == label else ""
        score = "" if probabilities else f" {values[i]:+7.2f}" if i < len(values) else " " * 8
        text.append(f"{i}{score} {bar:<{BAR_WIDTH}} {100 * prob:5.1f}%{mark}\n", style=style)
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

    index = var(0, init=False)
    """The snapshot shown, of `snapshots` (Left, Right)."""
    shades = var(False, init=False)
    """Heat maps in shade characters instead of colours (h; the default without colour)."""

    def __init__(self, snapshots: list[SnapshotTaken], index: int) -> None:
        super().__init__()
        self.snapshots = snapshots
        self.set_reactive(SnapshotScreen.index, index)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="snapshot-body"):
            yield Static(id="snapshot-title")
            with Horizontal(classes="snapshot-row"):
                yield Static(id="numbers-0", classes="kernel")
                yield Static(id="numbers-1", classes="kernel")
            with Horizontal(classes="snapshot-row"):
                yield Static(id="map-0", classes="heatmap")
                yield Static(id="map-1", classes="heatmap")
                yield Static(id="output-bars")
        yield KeyBar()

    def on_mount(self) -> None:
        self.set_reactive(SnapshotScreen.shades, self.app.no_color)
        self.show()

    def watch_index(self) -> None:
        self.show()

    def watch_shades(self) -> None:
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
        numbers = [self._numbers(p) for p in snap.of_kind("kernel", "vector")][:2]
        maps = [self._map(p, slot, colour) for slot, p in enumerate(snap.of_kind("feature_map", "matrix")[:2])]
        if not snap.of_kind("kernel", "feature_map", "matrix"):
            maps = maps or [Text("(no convolution)")]
        for slot in range(2):
            self.query_one(f"#numbers-{slot}", Static).update(numbers[slot] if slot < len(numbers) else "")
            self.query_one(f"#map-{slot}", Static).update(maps[slot] if slot < len(maps) else "")
        outputs = snap.of_kind("output")
        self.query_one("#output-bars", Static).update(
            output_text(outputs[0], snap.label) if outputs else Text("(the network gave no tensor)"))

    @staticmethod
    def _numbers(panel: dict) -> Text:
        if panel["kind"] == "vector":
            return Text(vector_text(f"{panel['layer']} outputs, sample 0", panel["array"], panel.get("size")))
        return Text(kernel_text(f"{panel['layer']}.weight{panel.get('index', '')}", panel["array"]))

    @staticmethod
    def _map(panel: dict, slot: int, colour: bool) -> Text:
        if panel["kind"] == "matrix":
            return Text(f"{panel['layer']}.weight, a row per output\n") + heatmap(panel["array"], colour)
        word = "channel" if slot == 0 else "ch"  # the second map is half as wide
        title = f"{panel['layer']} {word} {panel.get('channel', 0)}{panel.get('index', '')}\n"
        return Text(title) + heatmap(panel["array"], colour)

    def action_browse(self, delta: int) -> None:
        self.index = max(0, min(len(self.snapshots) - 1, self.index + delta))

    def action_toggle_shades(self) -> None:
        self.shades = not self.shades


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
        """Enter, shown in the key bar: the list's own selection, so a choice is answered once."""
        self.query_one(OptionList).action_select()


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
