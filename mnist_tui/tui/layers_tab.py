"""Tab 2: one table row per layer (static facts plus the latest statistics) and the snapshot list."""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from .state import RunState

STRUCTURE = ("layer", "type", "hyper", "param shape", "output shape", "params")
STATS = ("layer", "mean", "std", "min", "max", "zeros", "dead", "grad norm", "log10 upd/w", "flags")


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
    return "+".join(str(list(s)).replace(" ", "") for s in shapes.values()) or "-"


def num(value: float | None, pattern: str = "{:.3g}") -> str:
    if value is None:
        return "-"
    return pattern.format(value) if math.isfinite(value) else str(value)


class LayersTab(Vertical):
    """Structure and statistics in two tables, so both fit 80 columns without scrolling sideways."""

    def compose(self) -> ComposeResult:
        yield Static("No statistics yet: press r to take them at the next batch.", id="taken-at")
        yield DataTable(id="structure-table", cursor_type="row")
        yield DataTable(id="stats-table", cursor_type="row")
        yield Static("", id="flags")

    def on_mount(self) -> None:
        for table_id, columns in (("#structure-table", STRUCTURE), ("#stats-table", STATS)):
            table = self.query_one(table_id, DataTable)
            for name in columns:
                table.add_column(name, key=name)

    def show(self, state: RunState, auto_every: int | None) -> None:
        structure = self.query_one("#structure-table", DataTable)
        stats_table = self.query_one("#stats-table", DataTable)
        if state.started and not structure.row_count:
            for row in state.started.layers:
                structure.add_row(row["name"], row["type"], hyper_text(row["hyper"]), shape_text(row["param_shapes"]),
                                  str(row["output_shape"]), f"{row['param_count']:,}", key=row["name"])
                stats_table.add_row(row["name"], *["-"] * (len(STATS) - 1), key=row["name"])
        auto = f"auto every {auto_every} batches" if auto_every else "auto off (a)"
        snaps = f"{len(state.snapshots)} snapshot{'s' if len(state.snapshots) != 1 else ''} (o lists)"
        stats = state.layer_stats
        if stats is None:
            self.query_one("#taken-at", Static).update(f"No statistics yet (r takes them) │ {auto} │ {snaps}")
            return
        self.query_one("#taken-at", Static).update(
            f"Figures taken at epoch {stats.epoch}, batch {stats.batch} │ {auto} │ {snaps}")
        for row in stats.layers:
            if row["name"] not in stats_table.rows:
                continue
            cells = (num(row["mean"]), num(row["std"]), num(row["min"]), num(row["max"]),
                     num(100 * row["zero_frac"], "{:.0f}%"), num(100 * row["dead_frac"], "{:.0f}%"),
                     num(row.get("grad_norm")), num(row.get("update_ratio_log10"), "{:.2f}"),
                     state.flags.get(row["name"], ""))
            for column, cell in zip(STATS[1:], cells):
                stats_table.update_cell(row["name"], column, cell, update_width=True)
        flagged = [f"{name}: {text}" for name, text in state.flags.items() if text != "ok"]
        self.query_one("#flags", Static).update("Flags: " + ("; ".join(flagged) if flagged else "none"))

    def focus_main(self) -> None:
        self.query_one("#stats-table").focus()
