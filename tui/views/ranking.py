"""View 5, ranking: nodes by rank (stored / (stored + lost)) and each one's rank over time."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from tui.views.base import View, footer_keys
from tui.widgets.ranking import RankingView


class RankingsView(View):
    """The ranking, scrolled as a whole."""

    MAIN = "#ranking"
    BINDINGS = footer_keys((("space", "pause", "pause"),))

    def compose(self) -> ComposeResult:
        """The ranking in a scroll."""
        with VerticalScroll(id="ranking"):
            yield RankingView()

    def show(self) -> None:
        """The ranking."""
        self.query_one(RankingView).show(self.model)
