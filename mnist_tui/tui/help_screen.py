"""`?`: every key in one place, since the footer only has room for a few."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = """\
[b]Keys everywhere[/b]
  1 2 3        Training, Layers, Validation tabs (also Tab / Shift+Tab)
  p            pause / resume training
  s            snapshot layer contents at the next batch (now, if paused) and open it
  r            refresh layer statistics at the next batch (now, if paused)
  a            automatic layer statistics every {every} batches, on / off
  v            validate now
  c            save a checkpoint now
  + -          more / less smoothing of the history chart
  l            log scale for the loss
  q            quit (asks first while training; stops after the batch, saves a checkpoint)
  Ctrl+C       quit at once, like a confirmed q
  ?            this help
[b]Layers tab[/b]
  arrows       scroll the table; Enter on a snapshot reopens it
[b]Snapshot view[/b]
  left right   older / newer snapshot     h  colour / shade characters     Esc  back

Press Esc or ? to close."""


class HelpScreen(ModalScreen):
    BINDINGS: ClassVar = [Binding("escape,question_mark", "app.pop_screen", "Close")]

    def __init__(self, auto_every: int) -> None:
        super().__init__()
        self.auto_every = auto_every

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(KEYS.format(every=self.auto_every))
