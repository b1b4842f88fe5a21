"""View 4, evictions and churn: a row per happening (evictions, put failures, holders removed or
replicated, rank changes, integrity failures, churn, vaults up and down, faults), and above it
how many of each kind were seen; its keys narrow it to a kind or to words."""

from __future__ import annotations

from textual.app import ComposeResult

from tui.views.base import View, footer_keys
from tui.widgets.event_table import EventCounts, EventTable


class EventsView(View):
    """The events table and its counts, and its filter."""

    MAIN = EventTable
    BINDINGS = footer_keys((("c", "event_kind", "kind"), ("slash", "filter", "filter"),
                            ("space", "pause", "pause")))

    def compose(self) -> ComposeResult:
        """The counts above the events table."""
        yield EventCounts()
        yield EventTable()

    def show(self) -> None:
        """The events table, then the counts and filter above it."""
        table = self.query_one(EventTable)
        table.show(self.model)
        self.query_one(EventCounts).show(self.model, table)

    def ask_filter(self) -> None:
        """Ask for the words the rows must all have, then show the rows that do."""
        words = " ".join(self.query_one(EventTable).words)
        self.ask("filter the events (words that must all appear: kind, vault or copy prefix, "
                 "trace prefix, reason; empty shows all)", words, self._filter)

    def _filter(self, text: str | None) -> None:
        if text is None:
            return
        self.query_one(EventTable).set_words(text)
        self.show()

    def action_event_kind(self) -> None:
        """Narrow the table to the next kind of event (after the last: every kind), shown."""
        self.query_one(EventTable).cycle_kind()
        self.show()
        self.dashboard.action_tab("evictions")
