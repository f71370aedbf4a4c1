"""Tab 4, `mnist-tui runs`: the runs under a folder in a table; sort, open, mark and compare.

Read again every few seconds, so live runs move on in the table as they train. The folder is read
in a thread (a slow or hung disk must not freeze the keys); the table is redrawn from what the
last read found, so sorting and marking never wait for a read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from mnist_tui.run.index import COLUMNS, RunSummary, list_runs, sort_runs
from mnist_tui.tui.messages import OpenRun, QuitFromRuns
from mnist_tui.tui.screens.folder_read import OneRead
from mnist_tui.tui.widgets.column_scroll import scroll_a_column
from mnist_tui.tui.widgets.header import clock
from mnist_tui.tui.widgets.key_bar import KeyBar

REFRESH_S = 2.0
NO_RUN_OPEN = "No run open: Enter opens the highlighted run."


def _pct(value: float | None) -> str:
    return f"{100 * value:.2f}" if value is not None else "-"


def row_cells(run: RunSummary, marked: bool) -> tuple[str, ...]:
    wall = clock(run.wall_s) if run.wall_s is not None else "-"
    started = time.strftime("%m-%d %H:%M", time.localtime(run.started)) if run.started else "-"
    epochs = f"{run.epochs_done:g}/{run.epochs_total}" if run.epochs_total else "-"
    lr = f"{run.lr:g} {run.schedule or ''}".strip() if run.lr is not None else "-"
    best = _pct(run.best_val_acc) if run.best_val_acc is not None or run.best_val_loss is None else \
        f"loss {run.best_val_loss:.4g}"  # a run with no accuracy: its lowest validation loss
    return ("●" if marked else " ", run.name, run.status_word, best, _pct(run.test_acc),
            run.optimizer or "-", lr, run.l2 or "-", epochs, wall, started)


class RunsRead(Message):
    """What a read of the runs folder found (posted from the reading thread)."""

    def __init__(self, runs: list[RunSummary]) -> None:
        super().__init__()
        self.runs = runs


class RunsScreen(Screen):
    BINDINGS: ClassVar = [
        # priority: the table's own Enter and arrows would take them (and hide them from the key bar)
        Binding("enter", "open", "Open", key_display="Enter", priority=True),
        Binding("escape", "back", "Run view", key_display="Esc"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("s", "sort", "Sort"),
        Binding("d", "reverse", "Reverse"),
        Binding("right", "column(1)", "Columns", key_display="←→", priority=True),
        Binding("left", "column(-1)", show=False, priority=True),
        Binding("q", "quit_app", "Quit"),
    ]

    def __init__(self, runs_dir: Path, can_go_back: bool = False) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.can_go_back = can_go_back
        self.runs: list[RunSummary] = []  # as shown: sorted
        self._found: list[RunSummary] = []  # as the last read found them (list_runs' order)
        self.marked: set[Path] = set()
        self.sort_column = "started"
        self.sort_reverse = True
        self.loaded = False  # a first read has come back
        self._reads = OneRead(self, lambda: RunsRead(list_runs(self.runs_dir)), "runs-read")

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in (" ", *COLUMNS):
            table.add_column(label, key=label)
        self.refresh_runs()
        self.set_interval(REFRESH_S, self.refresh_runs)
        self._show_title()
        table.focus()

    def refresh_runs(self) -> None:
        """Read the folder again in a thread; the table follows when the read comes back."""
        self._reads.start()

    def on_runs_read(self, read: RunsRead) -> None:
        self._reads.done()
        self._found, self.loaded = read.runs, True
        self._show_runs()

    def _show_runs(self) -> None:
        """The table from the runs last read, in the chosen order; no I/O."""
        cursor = self.current().path if self.current() else None  # the run under the cursor, before rows move
        self.runs = sort_runs(self._found, self.sort_column, self.sort_reverse)
        table = self.query_one(DataTable)
        table.clear()
        for run in self.runs:
            # Text cells: a DataTable reads a str cell as markup, and names and settings are data.
            table.add_row(*map(Text, row_cells(run, run.path in self.marked)), key=str(run.path))
        if cursor is not None and str(cursor) in [str(r.path) for r in self.runs]:
            table.move_cursor(row=table.get_row_index(str(cursor)))
        self._show_title()

    def _show_title(self) -> None:
        arrow = "↓" if self.sort_reverse else "↑"
        self.query_one("#runs-title", Static).update(Content.from_markup(
            f"[b]Runs in $folder[/b] · {len(self.runs) if self.loaded else 'reading…'} · sorted by {self.sort_column} {arrow} · "
            f"{len(self.marked)} marked (space) · Enter opens · c compares", folder=str(self.runs_dir)))

    def current(self) -> RunSummary | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row is None or not 0 <= table.cursor_row < len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column in COLUMNS:
            self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
            self.sort_column = column
            self._show_runs()

    def on_data_table_row_selected(self, _event) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.current()
        if run is None:
            self.app.notify("No run here yet.", severity="warning", timeout=3)
            return
        if run.damaged:
            self.app.notify(f"Cannot open it: {run.damaged}", severity="error", markup=False, timeout=6)
            return
        self.post_message(OpenRun(run.path))

    def action_mark(self) -> None:
        run = self.current()
        if run is None:
            return
        self.marked ^= {run.path}
        table = self.query_one(DataTable)
        table.update_cell(str(run.path), " ", "●" if run.path in self.marked else " ")
        table.action_cursor_down()

    def action_compare(self) -> None:
        from mnist_tui.tui.screens.compare_screen import CompareScreen

        paths = [r.path for r in self.runs if r.path in self.marked]
        if len(paths) < 2:
            self.app.notify("Mark two runs or more with space, then c compares them.", severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen(paths))

    def action_sort(self) -> None:
        self.sort_column = COLUMNS[(COLUMNS.index(self.sort_column) + 1) % len(COLUMNS)]
        self._show_runs()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._show_runs()

    def key_label(self, action: str, description: str) -> str | None:
        return None if action == "back" and not self.can_go_back else description

    def action_column(self, delta: int) -> None:
        """Left, Right: scroll the table sideways a whole column at a time."""
        table = self.query_one(DataTable)
        edges, x = [], 0
        for column in table.ordered_columns:
            edges.append(x)
            x += column.get_render_width(table)
        scroll_a_column(table, edges, delta)

    def action_back(self) -> None:
        if not self.can_go_back:
            self.app.notify(NO_RUN_OPEN, timeout=3)
            return
        self.app.pop_screen()

    def action_quit_app(self) -> None:
        if self.can_go_back:
            self.post_message(QuitFromRuns())
        else:
            self.app.leave()
