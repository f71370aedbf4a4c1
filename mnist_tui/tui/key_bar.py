"""A one-line footer with the screen's active keys.

Textual's Footer rebuilds one widget per key whenever the bindings change, and ours change on
every tab switch: under training load that rebuild was the largest part of a tab switch. This is
one line of text instead; each key stays clickable (it simulates the key press).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
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

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.update(self.keys_markup(), layout=False)

    def keys_markup(self) -> str:
        parts, actions = [], set()
        for _, binding, enabled, _ in self.screen.active_bindings.values():
            if not binding.show or binding.action in actions:  # one entry per action, as Footer does
                continue
            actions.add(binding.action)
            key = self.app.get_key_display(binding).replace("[", "\\[")
            style = "$footer-key-foreground" if enabled else "dim"
            parts.append(f"[@click=app.simulate_key({binding.key.split(',')[0]!r})][b {style}]{key}[/] "
                         f"{binding.description}[/]")
        return " " + " ".join(parts)
