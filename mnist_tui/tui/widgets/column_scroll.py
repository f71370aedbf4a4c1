"""Left and Right on a table wider than the terminal: a whole column at a time, not a cell."""

from __future__ import annotations

from textual.widget import Widget


def scroll_a_column(box: Widget, edges: list[int], delta: int) -> None:
    """Scroll `box` sideways to the next column start in `edges` (delta > 0) or the previous one."""
    now = round(box.scroll_x)
    if delta > 0:
        target = next((edge for edge in edges if edge > now), now)
    else:
        target = max((edge for edge in edges if edge < now), default=0)
    box.scroll_to(x=min(target, box.max_scroll_x), animate=False)
