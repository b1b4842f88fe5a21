"""A Static the views draw from the model on every drain tick (ten times a second)."""

from __future__ import annotations

from textual.visual import VisualType
from textual.widgets import Static


class Panel(Static):
    """A Static whose `update` with the text it already shows does nothing: Static's `update`
    lays the screen out again and renders the widget anew every time, and the views draw
    their panels on every drain tick, most of them with nothing new."""

    _shown: str | None = None

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        """Show `content`, unless it is the text already shown."""
        text = content if isinstance(content, str) else None
        if text is not None and text == self._shown:
            return
        self._shown = text
        super().update(content, layout=layout)
