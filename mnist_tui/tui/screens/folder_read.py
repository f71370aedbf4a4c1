"""A run-folder read in a Textual thread worker, one at a time: the event loop never waits for the
disk, and a hung folder gets one thread rather than one per timer tick. What the read returns is
a message, posted to the screen that asked; the screen calls `done` once it has taken it in, so
no read starts before the last one's result is handled (reads are taken in the order they ran)."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message
from textual.screen import Screen


class OneRead:
    def __init__(self, screen: Screen, read: Callable[[], Message], group: str) -> None:
        """`read`: runs in the worker thread and returns the message to post."""
        self._screen, self._read, self._group = screen, read, group
        self.under_way = False

    def start(self) -> bool:
        """Start a read unless one is under way (False then)."""
        if self.under_way:
            return False
        self.under_way = True
        self._screen.run_worker(lambda: self._screen.post_message(self._read()), thread=True, exclusive=True,
                                group=self._group)
        return True

    def done(self) -> None:
        """The screen has handled the read's message: the next read may start."""
        self.under_way = False
