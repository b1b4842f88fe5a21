"""View 3, flows: the followed operation as a space-time diagram, and below it the live message
log; its keys filter the log and pause the display."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from tui.views.base import View, footer_keys
from tui.widgets.flow_log import FilteredLog
from tui.widgets.space_time import SpaceTime


class FlowsView(View):
    """The space-time diagram and the message log (which remembers how much of the model's
    log it has shown, and its filter)."""

    DEFAULT_CSS = "FlowsView > VerticalScroll { height: 1fr; }"
    MAIN = FilteredLog
    BINDINGS = footer_keys((("slash", "filter", "filter"), ("space", "pause", "pause")))

    def __init__(self, title: str, *, id: str | None = None) -> None:
        """The pane titled `title`; nothing of the log shown yet, no filter."""
        super().__init__(title, id=id)
        self.filter_text = ""
        self.seen = 0  # lines of the model's message log shown

    def compose(self) -> ComposeResult:
        """The space-time diagram above the message log."""
        with VerticalScroll():
            yield SpaceTime()
        yield FilteredLog(id="flow-log")

    def show(self) -> None:
        """The followed operation's space-time diagram and the new lines of the log."""
        self.query_one(SpaceTime).show(self.model)
        self.query_one(FilteredLog).append(self.model.flow.since(self.seen))
        self.seen = self.model.flow.total

    def redraw_log(self) -> None:
        """Show the log afresh from the model's history (after a pause, or a new model)."""
        log = self.query_one(FilteredLog)
        log.set_filter(" ".join(log.words), self.model.flow.lines)
        self.seen = self.model.flow.total

    def follow(self, trace: bytes) -> None:
        """Follow the operation `trace`: show it here."""
        self.model.followed_trace = trace
        self.dashboard.action_tab("flows")
        self.dashboard.render_shown()

    def ask_filter(self) -> None:
        """Ask for the words the log's lines must all have, then show the log filtered."""
        self.ask("filter the message log (words that must all appear; empty shows all)",
                 self.filter_text, self._filter)

    def _filter(self, text: str | None) -> None:
        if text is None:
            return
        self.filter_text = text
        self.query_one(FilteredLog).set_filter(text, self.model.flow.lines)
        self.dashboard.action_tab("flows")
