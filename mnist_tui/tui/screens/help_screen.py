"""`?`: every key in one place, since the footer only has room for a few."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mnist_tui.tui.widgets.key_bar import KeyBar

KEYS = """\
[b]Keys everywhere[/b]
  1 2 3       Training, Layers, Validation (also Tab / Shift+Tab)
  4           the runs table: sort, open, mark, compare
  p           pause / resume training
  s           snapshot layer contents at the next batch and open it
  S           pick the layer snapshots show (any convolution or
              linear layer; default: the first two convolutions)
  r           layer statistics at the next batch
              (s and r act at once while paused or after the end)
  a           automatic statistics every {every} batches, on / off
              (also taken at the first batch and every evaluation)
  v           validate now (after the end too: the final model
              answers r, s and v until you quit)
  c           save a checkpoint now
  + -         more / less smoothing of the history chart
  l           log scale for the loss
  i           the run's settings: one line / all of them
  q           quit; while training it asks: s stop (after the
              batch, with a checkpoint), b leave it training in
              the background (mnist-tui watch opens it), Esc stay
  Ctrl+C      the run this app started: stop it and quit;
              a watched run: quit, training goes on
  ?           this help
[b]Layers tab[/b]
  arrows      scroll the tab (Left, Right: tables wider than the
              terminal)
  m           health map figure: dead share, activation std,
              gradient norm, log10 update/weight ratio
  o           list the snapshots; Enter reopens one
[b]Validation tab[/b]
  arrows      scroll: diagnosis, evaluations, chart, confusion
              matrix, worst-classified digits
[b]Runs table (4)[/b]
  Enter open  space mark  c compare marked  s sort column
  d reverse   Left Right  a column sideways  Esc back to the run
[b]Snapshot view[/b]
  left right  older / newer snapshot
  h           colour / shade characters
  Esc         back

Press Esc or ? to close."""


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar = [Binding("escape,question_mark", "app.pop_screen", "Close", key_display="Esc")]

    def __init__(self, auto_every: int) -> None:
        super().__init__()
        self.auto_every = auto_every

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(KEYS.format(every=self.auto_every))
        yield KeyBar()
