"""Asks before quitting a run that is still training; answers True (quit) or False."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS: ClassVar = [
        Binding("y,enter", "answer(True)", "Quit"),
        Binding("n,escape", "answer(False)", "Keep training"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Training is still running.\n\nQuit? It stops after the current batch, saves a checkpoint "
                     "and flushes the event log.\n\n[b]y[/b] / Enter: quit     [b]n[/b] / Esc: keep training",
                     id="confirm-box")

    def action_answer(self, quit_: bool) -> None:
        self.dismiss(quit_)
