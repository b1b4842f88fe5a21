"""The live message log, bounded, with a `/` filter.

The filter is space-separated words that must all appear in a line (persona, action, vault or
name prefix, trace prefix); an empty filter shows everything. Changing it re-renders from the
model's bounded history, so earlier matching lines appear too.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log

MAX_LINES = 2000


def matches(line: str, words: list[str]) -> bool:
    """Whether `line` has every one of `words` (lower case)."""
    lowered = line.lower()
    return all(word in lowered for word in words)


class FilteredLog(Log):
    """A Log fed with new lines in batches, showing only those matching the filter."""

    DEFAULT_CSS = """
    FilteredLog { height: 1fr; border: round $panel-lighten-2; }
    FilteredLog:focus { border: round $accent; }
    """

    def __init__(self, highlight: bool = False, *, auto_scroll: bool = True,
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(highlight, MAX_LINES, auto_scroll, name=name, id=id, classes=classes,
                         disabled=disabled)
        self.words: list[str] = []

    def set_filter(self, text: str, history: Iterable[str]) -> None:
        """Filter by the words of `text`, showing the matching lines of `history` afresh."""
        self.words = text.lower().split()
        self.clear()
        self.append(list(history)[-MAX_LINES * 4:])

    def append(self, lines: list[str]) -> None:
        """Add the lines that pass the filter."""
        shown = [line for line in lines if matches(line, self.words)] if self.words else lines
        if shown:
            self.write_lines(shown[-MAX_LINES:])
