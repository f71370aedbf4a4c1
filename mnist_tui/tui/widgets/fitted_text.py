"""A Static whose text is laid out for its width: pictures side by side, a map's columns."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class FittedText(Static):
    """Subclasses build their text for a width in `fit` and call `changed` when their data does.
    Textual asks for it twice per layout (height, then render): it is built once per width and change."""

    _generation = 0
    _built: tuple = (None, None)

    def fit(self, width: int) -> Text:
        raise NotImplementedError

    def changed(self) -> None:
        self._generation += 1
        self.refresh(layout=True)

    def _fitted(self, width: int) -> Text:
        key = (width, self._generation)
        if self._built[0] != key:
            self._built = (key, self.fit(width))
        return self._built[1]

    def render(self) -> Text:
        return self._fitted(self.size.width)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._fitted(width).plain.splitlines())
