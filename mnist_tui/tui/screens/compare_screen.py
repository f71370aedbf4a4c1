"""Marked runs side by side: validation accuracy and loss curves overlaid, final figures, and
the settings in which the runs differ. On a sweep folder it follows the sweep as runs appear:
the runs still to train are listed as pending, and each run keeps its marker (its place in the
sweep's plan) however many have appeared. The run folders are read in a thread, the figures
drawn when the read comes back, so a slow folder never holds the keys."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from mnist_tui.run.index import RunSummary, differing_settings, list_runs, planned_runs, summarise, validation_curve
from mnist_tui.tui.screens.folder_read import OneRead
from mnist_tui.tui.widgets.charts import CachedPlot
from mnist_tui.tui.widgets.column_scroll import scroll_a_column
from mnist_tui.tui.widgets.key_bar import KeyBar

REFRESH_S = 3.0
COLOURS = ("cyan", "orange", "green", "magenta", "yellow", "red", "blue", "white")
MARKERS = "ox+*#@%&"


class CompareChart(CachedPlot):
    """One figure of the marked runs' validation curves, a marker and colour per run."""

    _lines: tuple = ()
    _title = ""

    def replot(self, curves: list[tuple[str, list]], which: int, title: str) -> None:
        self._lines = tuple([(p[0], p[which]) for p in curve if p[which] is not None]  # no accuracy: loss only
                            for _name, curve in curves)
        self._title = title
        self.redraw()

    def draw(self) -> None:
        for i, points in enumerate(self._lines):
            if points:
                self.plt.plot([x for x, _ in points], [y for _, y in points], marker=MARKERS[i % len(MARKERS)],
                              color=COLOURS[i % len(COLOURS)])
        self.plt.title(self._title)


def compare_table(entries: list[tuple[str, RunSummary | None]], curves: list[list]) -> Content:
    """`entries`: (name, summary, or None for a sweep's run not started yet), in marker order;
    `curves`: each one's validation curve, (x, acc, loss) points, read once by the caller.
    Plain text with styles put on: run names and settings are data, never markup."""
    runs = [run for _, run in entries if run is not None]
    differ = differing_settings(runs) if len(runs) > 1 else []
    head = ["", "run", "status", "epochs", "best val", "final val", "val loss", "test", *differ]
    rows = [head]
    for i, ((name, run), curve) in enumerate(zip(entries, curves)):
        if run is None:
            rows.append([MARKERS[i % len(MARKERS)], name, "pending", *["-"] * (len(head) - 3)])
            continue
        last = curve[-1] if curve else None
        epochs = f"{run.epochs_done:g}/{run.epochs_total}" if run.epochs_total else "-"
        rows.append([MARKERS[i % len(MARKERS)], run.name, run.status.value, epochs,
                     _best(run), _pct(last[1] if last else None),
                     f"{last[2]:.4f}" if last else "-", _pct(run.test_acc),
                     *(str(run.config.get(key, "-")) for key in differ)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for i, row in enumerate(rows):
        marker = (row[0].ljust(widths[0]), COLOURS[(i - 1) % len(COLOURS)] if i else "")
        line = Content.assemble(marker, "  ", "  ".join(cell.ljust(width) for cell, width in zip(row[1:], widths[1:])))
        lines.append(line.rstrip().stylize("bold") if i == 0 else line.rstrip())
    if len(runs) > 1:  # with one run there is nothing to tell apart yet
        lines.append(Content(f"They differ in: {', '.join(differ)}" if differ else "Their settings are the same."))
    return Content("\n").join(lines)


def _best(run: RunSummary) -> str:
    """The best validation accuracy, or for a run with none its lowest validation loss."""
    if run.best_val_acc is None and run.best_val_loss is not None:
        return f"loss {run.best_val_loss:.4g}"
    return _pct(run.best_val_acc)


def _pct(value: float | None) -> str:
    return f"{100 * value:.2f}%" if value is not None else "-"


Curves = list[tuple[str, list]]  # (name, its validation points (epoch, acc, loss)), in marker order


class FiguresRead(Message):
    """What a read of the compared runs found (posted from the reading thread)."""

    def __init__(self, entries: list[tuple[str, RunSummary | None]], curves: Curves) -> None:
        super().__init__()
        self.entries, self.curves = entries, curves


class CompareScreen(Screen):
    BINDINGS: ClassVar = [
        Binding("escape,q", "back", "Back", key_display="Esc"),
        # priority: the scrolled body's own Left and Right would take them
        Binding("right", "column(1)", "Columns", key_display="←→", priority=True),
        Binding("left", "column(-1)", show=False, priority=True),
    ]

    def __init__(self, paths: list[Path], live: bool = False) -> None:
        """`paths`: runs to compare; with `live`, one sweep folder whose runs all show as they appear."""
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self.live = live
        self.loaded = False  # a first read has come back
        self._reads = OneRead(self, self._read_figures, "compare-read")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-body"):
            yield Static("", id="compare-title")
            with HorizontalScroll(id="compare-table-box"):  # wider than the terminal: Left, Right
                yield Static("", id="compare-table")
            yield CompareChart(id="compare-acc", classes="compare-chart")
            yield CompareChart(id="compare-loss", classes="compare-chart")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_figures()
        self.set_interval(REFRESH_S, self.refresh_figures)
        self.query_one("#compare-body").focus()

    def entries(self) -> list[tuple[str, RunSummary | None]]:
        """The runs in a fixed order, so that each keeps its marker: a sweep's in its plan's order
        (None: not started yet), then any other run in its folder by name; marked runs as marked."""
        if not self.live:
            return [(s.name, s) for s in map(summarise, self.paths) if s is not None]
        found = {r.name: r for r in list_runs(self.paths[0])}
        planned = planned_runs(self.paths[0])
        return [(name, found.get(name)) for name in planned] + sorted(
            ((name, run) for name, run in found.items() if name not in planned), key=lambda entry: entry[0])

    def refresh_figures(self) -> None:
        """Read the runs again in a thread; the figures follow when the read comes back."""
        self._reads.start()

    def _read_figures(self) -> FiguresRead:
        """In the worker: the runs' summaries and validation curves."""
        entries = self.entries()
        curves = [(name, [] if r is None else [(step / r.batches_per_epoch if r.batches_per_epoch else step, acc, loss)
                                               for step, acc, loss in validation_curve(r.path)]) for name, r in entries]
        return FiguresRead(entries, curves)

    def on_figures_read(self, read: FiguresRead) -> None:
        self._reads.done()
        self.loaded = True
        entries, curves = read.entries, read.curves
        runs = [run for _, run in entries if run is not None]
        ended = sum(run.status.ended for run in runs)
        where = f"sweep {self.paths[0]} ({ended} of {len(entries)} runs ended)" if self.live else f"{len(runs)} runs"
        self.query_one("#compare-title", Static).update(Content.from_markup(
            "[b]Compare: $where[/b] · validation curves below, one marker per run · Esc back", where=where))
        accuracy = any(point[1] is not None for _, curve in curves for point in curve)
        self.query_one("#compare-acc", CompareChart).display = accuracy  # runs with no accuracy: loss alone
        self.query_one("#compare-acc", CompareChart).replot(curves, 1, "validation accuracy")
        self.query_one("#compare-loss", CompareChart).replot(curves, 2, "validation loss")
        self.query_one("#compare-table", Static).update(
            compare_table(entries, [curve for _, curve in curves]) if entries else "No runs yet.")

    def action_column(self, delta: int) -> None:
        """Left, Right: scroll the table sideways a whole column at a time (columns are two spaces apart)."""
        box, table = self.query_one("#compare-table-box"), self.query_one("#compare-table", Static)
        header = str(table.render()).split("\n", 1)[0]
        edges = [0] + [i for i in range(2, len(header)) if header[i] != " " and header[i - 2 : i] == "  "]
        scroll_a_column(box, edges, delta)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.leave()
