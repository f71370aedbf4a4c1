"""The Training tab's log: Textual's Log, with long lines wrapped at the widget's width.

A log line (a path, a diagnosis) is often wider than 80 columns; wrapped, nothing is cut. Lines
are wrapped again when the width changes, and a log that was following its end keeps following
after a resize (Log follows only while its view is at the end, and a resize moves the end).
"""

from __future__ import annotations

import collections
import textwrap
from collections.abc import Iterable

from textual.widgets import Log

INDENT = "  "  # continuation lines, so a wrapped line reads as one


class WrappedLog(Log):
    def __init__(self, max_lines: int = 500, **kwargs) -> None:
        super().__init__(max_lines=max_lines, **kwargs)
        self.raw_lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._wrap_width = 0
        self.following = True

    def _wrap_at(self) -> int:
        return max(self.scrollable_content_region.width, 20)

    def _wrapped(self, lines: Iterable[str]) -> list[str]:
        out = []
        for line in lines:
            if len(line) <= self._wrap_width:
                out.append(line)
            else:
                out += textwrap.wrap(line, self._wrap_width, subsequent_indent=INDENT, break_on_hyphens=False,
                                     drop_whitespace=False) or [""]
        return out

    def add_lines(self, lines: list[str]) -> None:
        self.raw_lines.extend(lines)
        if self._wrap_width:  # before the first layout, lines wait for the width (on_resize writes them)
            self.write_lines(self._wrapped(lines))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.following = new >= self.max_scroll_y

    def on_resize(self) -> None:
        following = self.following
        if self._wrap_at() != self._wrap_width:
            self._wrap_width = self._wrap_at()
            self.clear()
            self.write_lines(self._wrapped(self.raw_lines), scroll_end=False)
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.following = True
