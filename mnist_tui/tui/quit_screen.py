"""`q` while a run trains: stop it (with a checkpoint), leave it training in the background, or stay."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitChoice(Enum):
    STOP = "stop"
    BACKGROUND = "background"
    CANCEL = "cancel"


class QuitScreen(ModalScreen[QuitChoice]):
    BINDINGS: ClassVar = [
        Binding("s", "choose('stop')", "Stop training"),
        Binding("b,q", "choose('background')", "Leave it training"),
        Binding("escape,n", "choose('cancel')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Training is still running.\n\n"
                     "[b]s[/b]    stop it: after the current batch, with a checkpoint\n"
                     "[b]b[/b]    leave it training in the background\n"
                     "     (mnist-tui watch opens it again)\n"
                     "[b]Esc[/b]  cancel", id="confirm-box")

    def action_choose(self, choice: str) -> None:
        self.dismiss(QuitChoice(choice))
