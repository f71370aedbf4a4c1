"""`q` while a run trains: stop it (with a checkpoint), leave it training in the background, or stay."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from mnist_tui.tui.widgets.key_bar import KeyBar


class QuitChoice(Enum):
    STOP = "stop"
    BACKGROUND = "background"
    CANCEL = "cancel"


class QuitScreen(ModalScreen[QuitChoice]):
    """Its own key bar, so the run view's keys (where `s` means snapshot) are not shown under it."""

    BINDINGS: ClassVar = [
        Binding("s", "choose('stop')", "Stop it"),
        Binding("b,q", "choose('background')", "Leave it training", key_display="b"),
        Binding("escape,n", "choose('cancel')", "Stay", key_display="Esc"),
    ]

    def compose(self) -> ComposeResult:
        # Lines of at most 44 cells: the box fits a 50x15 terminal.
        yield Static("Training is still running.\n\n"
                     "[b]s[/b]    stop it after the current batch,\n"
                     "     with a checkpoint\n"
                     "[b]b[/b]    leave it training in the background\n"
                     "     (mnist-tui watch opens it again)\n"
                     "[b]Esc[/b]  stay", id="confirm-box")
        yield KeyBar()

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice))
