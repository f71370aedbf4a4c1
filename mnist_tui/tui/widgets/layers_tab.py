"""Tab 2: one table row per layer (static facts plus the latest statistics) and the snapshot list."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import var
from textual.widgets import Static

from mnist_tui.sinks.course_log import at_index
from mnist_tui.tui.state import RunState
from mnist_tui.tui.widgets.fitted_text import FittedText
from mnist_tui.tui.widgets.health_map import METRICS, health_map

STRUCTURE = ("layer", "type", "hyper", "param shape", "output shape", "params")
STATS = ("layer", "mean", "std", "min", "max", "zeros", "dead", "grad norm", "log10 upd/w", "flags")


def hyper_text(hyper: dict) -> str:
    if "in" in hyper and "kernel" in hyper:
        k, s = hyper["kernel"], hyper["stride"]
        return f"{hyper['in']}→{hyper['out']} k{k[0]} s{s[0]} p{hyper['padding']}"
    if "kernel" in hyper:  # a pooling; without a stride Paddle steps by the kernel's size
        return f"k{hyper['kernel']} s{hyper.get('stride', hyper['kernel'])}"
    if "in" in hyper and "out" in hyper:  # linear and recurrent layers: input → hidden size
        return f"{hyper['in']}→{hyper['out']}"
    return "-"


def shape_text(shapes: dict) -> str:
    return "+".join(str(list(s)).replace(" ", "") for s in shapes.values()) or "-"


def layer_label(row: dict) -> str:
    """A layer's name, with how many times one forward called it when that is more than once."""
    calls = row.get("calls", 1)
    return f"{row['name']} ×{calls}" if calls > 1 else row["name"]


def output_shapes_text(row: dict) -> str:
    """The output shape of each call (once with "×N" when every call gave the same shape), and
    which element of a tuple or dict result was measured ("([0])" for an LSTM's output sequence)."""
    shapes = row.get("output_shapes") or [row["output_shape"]]
    if all(shape == shapes[0] for shape in shapes):
        text = str(shapes[0]) + (f" ×{len(shapes)}" if len(shapes) > 1 else "")
    else:
        text = " ".join(str(shape).replace(" ", "") for shape in shapes)
    return f"{text} ({row['output_element']})" if row.get("output_element") else text


def num(value: float | None, pattern: str = "{:.3g}") -> str:
    if value is None:
        return "-"
    return pattern.format(value) if math.isfinite(value) else str(value)


def text_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Text:
    """Columns padded to their widest cell, the header in bold: what a DataTable shows, as one text.

    The tab was two DataTables; showing the tab resizes them, which makes a DataTable render
    every cell again through Rich (about 30 ms here, on the cores training uses). A text of
    20 lines renders in about a millisecond.
    """
    widths = [max(len(cell) for cell in column) for column in zip(columns, *rows)]

    def line(cells) -> str:
        return " " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    table = Text(line(columns), style="bold", end="")
    for row in rows:
        table.append("\n" + line(row), style="not bold")
    return table


class HealthMap(FittedText):
    """Layers x statistics refreshes, coloured by one figure (`m` cycles): when did a layer start dying?"""

    metric = var(0, init=False)
    """The figure the map is coloured by: an index into METRICS (m)."""

    def on_mount(self) -> None:
        self.history, self.names = [], []

    def show(self, history, names: list[str]) -> None:
        self.history, self.names = list(history), names
        self.changed()

    def next_metric(self) -> str:
        self.metric = (self.metric + 1) % len(METRICS)
        return METRICS[self.metric][1]

    def watch_metric(self) -> None:
        self.changed()

    def fit(self, width: int) -> Text:
        return health_map(self.history, self.names, METRICS[self.metric][0], max(width, 20))


class LayersTab(VerticalScroll):
    """Statistics, the health map over time, then the structure. On a short terminal the tab
    scrolls (it has the focus); tables wider than the terminal (the course's at 80 columns, a deep
    model's long layer names) scroll sideways with Left and Right."""

    structure: dict[str, tuple[str, ...]]  # layer name -> its cells, as shown
    stats: dict[str, tuple[str, ...]]

    def compose(self) -> ComposeResult:
        yield Static("No statistics yet: they come with the first batch.", id="taken-at")
        yield Static(id="stats-table", classes="text-table")
        yield Static("", id="flags")
        yield Static("[b]Layer health over time[/b] (one column per statistics refresh)", id="health-title")
        yield HealthMap(id="health-map")
        yield Static(id="structure-table", classes="text-table")

    def on_mount(self) -> None:
        self.structure, self.stats, self.labels = {}, {}, {}

    def show(self, state: RunState, auto_every: int | None) -> None:
        if state.started and not self.structure:
            for row in state.started.layers:
                name = row["name"]
                self.labels[name] = layer_label(row)
                self.structure[name] = (self.labels[name], row["type"], hyper_text(row["hyper"]),
                                        shape_text(row["param_shapes"]), output_shapes_text(row),
                                        f"{row['param_count']:,}")
                self.stats[name] = (self.labels[name], *["-"] * (len(STATS) - 1))
            self.query_one("#structure-table", Static).update(text_table(STRUCTURE, list(self.structure.values())))
            self._show_stats()
        auto = f"auto every {auto_every} batches (a)" if auto_every else "auto off (a)"
        snaps = f"{len(state.snapshots)} snapshot{'s' if len(state.snapshots) != 1 else ''} (o lists)"
        stats = state.layer_stats
        failed = state.monitor_off.get("statistics")
        if failed:
            auto = f"statistics off, they failed: {failed} (traceback in run.log)"
        if stats is None:
            none = "No statistics" if failed else "No statistics yet (r takes them)"
            self.query_one("#taken-at", Static).update(Content(f"{none} │ {auto} │ {snaps}"))
            return
        ranks = state.started.ranks if state.started else 1
        whose = f" on rank 0's share (1 of {ranks} ranks)" if ranks > 1 else ""
        self.query_one("#taken-at", Static).update(Content(
            f"Figures taken at {at_index(stats.epoch, stats.batch)}{whose} │ {auto} │ {snaps}"))
        for row in stats.layers:
            if row["name"] not in self.stats:
                continue
            note = row.get("update_ratio_note")
            self.stats[row["name"]] = (
                self.labels[row["name"]], num(row["mean"]), num(row["std"]), num(row["min"]), num(row["max"]),
                num(100 * row["zero_frac"], "{:.0f}%"), num(100 * row["dead_frac"], "{:.0f}%"),
                num(row.get("grad_norm")), "—" if note else num(row.get("update_ratio_log10"), "{:.2f}"),
                state.flags.get(row["name"], ""))
        self._show_stats()
        self.query_one(HealthMap).show(state.stats_history, [row["name"] for row in state.started.layers]
                                       if state.started else [row["name"] for row in stats.layers])
        flagged = [f"{name}: {text}" for name, text in state.flags.items() if text != "ok"]
        notes = [f"{row['name']}: {row['update_ratio_note']}" for row in stats.layers if row.get("update_ratio_note")]
        self.query_one("#flags", Static).update(Text("Flags: " + ("; ".join(flagged) if flagged else "none") + (
            "\nNo log10 upd/w (—): " + "; ".join(notes) if notes else "")))

    def _show_stats(self) -> None:
        self.query_one("#stats-table", Static).update(text_table(STATS, list(self.stats.values())))

    def cell(self, table: str, layer: str, column: str) -> str:
        """What the structure or stats table shows for a layer and column."""
        columns, rows = (STRUCTURE, self.structure) if table == "structure" else (STATS, self.stats)
        return rows[layer][columns.index(column)]

    def focus_main(self) -> None:
        self.focus()
