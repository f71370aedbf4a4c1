"""Tab 2: one table row per layer (static facts plus the latest statistics) and the snapshot list."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from ..engine.events import SnapshotTaken
from .state import RunState

COLUMNS = ("layer", "type", "hyper", "param shape", "output shape", "params", "mean", "std", "min", "max",
           "zeros", "dead", "grad norm", "log10 upd/w", "flags")


def hyper_text(hyper: dict) -> str:
    if "in" in hyper and "kernel" in hyper:
        k, s = hyper["kernel"], hyper["stride"]
        return f"{hyper['in']}→{hyper['out']} k{k[0]} s{s[0]} p{hyper['padding']}"
    if "kernel" in hyper:
        return f"k{hyper['kernel']} s{hyper['stride']}"
    if "in" in hyper:
        return f"{hyper['in']}→{hyper['out']}"
    return "-"


def shape_text(shapes: dict) -> str:
    return " + ".join(str(list(s)).replace(" ", "") for s in shapes.values()) or "-"


def num(value: float | None, pattern: str = "{:.3g}") -> str:
    if value is None:
        return "-"
    return pattern.format(value) if math.isfinite(value) else str(value)


class LayersTab(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("No statistics yet: press r to take them at the next batch.", id="taken-at")
        table = DataTable(id="layers-table", zebra_stripes=True, cursor_type="row")
        table.fixed_columns = 1
        yield table
        yield Static("Snapshots (s takes one; Enter reopens):", id="snapshots-title")
        yield OptionList(id="snapshot-list")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)

    def show(self, state: RunState, auto_every: int | None) -> None:
        table = self.query_one(DataTable)
        if state.started and not table.row_count:
            for row in state.started.layers:
                table.add_row(row["name"], row["type"], hyper_text(row["hyper"]), shape_text(row["param_shapes"]),
                              str(row["output_shape"]).replace(" ", ""), f"{row['param_count']:,}",
                              *["-"] * (len(COLUMNS) - 6), key=row["name"])
        auto = f"auto-refresh every {auto_every} batches" if auto_every else "auto-refresh off (a)"
        stats = state.layer_stats
        if stats is None:
            self.query_one("#taken-at", Static).update(f"No statistics yet: press r to take them. {auto}.")
            return
        self.query_one("#taken-at", Static).update(
            f"Figures taken at epoch {stats.epoch}, batch {stats.batch} (step {stats.step}); {auto}.")
        for row in stats.layers:
            if row["name"] not in table.rows:
                continue
            cells = (num(row["mean"]), num(row["std"]), num(row["min"]), num(row["max"]),
                     num(100 * row["zero_frac"], "{:.1f}%"), num(100 * row["dead_frac"], "{:.0f}%"),
                     num(row.get("grad_norm")), num(row.get("update_ratio_log10"), "{:.2f}"),
                     state.flags.get(row["name"], ""))
            for column, cell in zip(COLUMNS[6:], cells):
                table.update_cell(row["name"], column, cell, update_width=True)

    def show_snapshots(self, snapshots: list[SnapshotTaken]) -> None:
        options = self.query_one(OptionList)
        have = options.option_count
        for i, snap in enumerate(snapshots[have:], start=have):
            options.add_option(Option(f"#{i + 1}  epoch {snap.epoch}, batch {snap.batch}  {snap.path}", id=str(i)))
