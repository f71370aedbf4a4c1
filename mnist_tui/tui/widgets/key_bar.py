"""A one-line footer with the screen's active keys.

Textual's Footer rebuilds one widget per key whenever the bindings change, and ours change on
every tab switch: under training load that rebuild was the largest part of a tab switch. This is
one line of text instead; each key stays clickable (it simulates the key press).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Static

MORE = "more"  # the help key's label when keys had to be left out: the help lists them all
PINNED = ("question_mark", "q")  # always shown, at the end: help and quit


class KeyBar(Static):
    """The screen's keys that can act now. A screen may define `key_label(action, description)`:
    the label for a key in the current state (e.g. Resume while paused), or None to hide a key
    that cannot act. Keys that do not fit the width are left out, and `?` then says `more`."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.update(self.keys_markup(), layout=False)

    def entries(self) -> list[tuple[str, str, str, bool]]:
        """(key pressed on a click, key shown, label, enabled) of each key to show, in binding order."""
        label_of = getattr(self.screen, "key_label", None)
        out, actions = [], set()
        for _, binding, enabled, _ in self.screen.active_bindings.values():
            if not binding.show or binding.action in actions:  # one entry per action, as Footer does
                continue
            actions.add(binding.action)
            label = label_of(binding.action, binding.description) if label_of else binding.description
            if label is not None:
                out.append((binding.key.split(",")[0], self.app.get_key_display(binding), label, enabled))
        return out

    def keys_markup(self, width: int | None = None) -> str:
        width = width or self.size.width or self.app.size.width
        entries = self.entries()
        pinned = [e for e in entries if e[0] in PINNED]
        rest = [e for e in entries if e[0] not in PINNED]

        def cells(items) -> int:
            return 1 + sum(cell_len(key) + 1 + cell_len(label) + 1 for _, key, label, _ in items)

        shown = list(rest)
        while shown and cells(shown + pinned) > width:
            shown.pop()
        if len(shown) < len(rest):
            pinned = [(k, key, MORE if k == "question_mark" else label, on) for k, key, label, on in pinned]
            while shown and cells(shown + pinned) > width:
                shown.pop()
        parts = []
        for key, display, label, enabled in shown + pinned:
            style = "$footer-key-foreground" if enabled else "dim"
            parts.append(f"[@click=app.simulate_key({key!r})][b {style}]{escape(display)}[/] {escape(label)}[/]")
        return " " + " ".join(parts)
