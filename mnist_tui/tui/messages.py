"""Messages between the app and its screens: a screen asks, the owner of the state acts.

OpenRun and QuitFromRuns bubble from the runs table to the app (which owns the open run); the
others go from the app to the run view only (bubble off: they would come back to the app)."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message


class OpenRun(Message):
    """Show this run in the run view."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class QuitFromRuns(Message):
    """q on the runs table over an open run: the run view decides (it may ask about a run still training)."""


class ShowTab(Message, bubble=False):
    """The run view, at this tab."""

    def __init__(self, tab: str) -> None:
        super().__init__()
        self.tab = tab


class RequestQuit(Message, bubble=False):
    """Quit as q on the run view does."""


class StopAndLeave(Message, bubble=False):
    """Ctrl+C, SIGTERM on an app that started its run: stop it, then leave."""
