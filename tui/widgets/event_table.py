"""View 4: what went wrong or changed in the network, one row per happening (evictions, put
failures, holders removed and replaced, rank changes, integrity failures, churn, vaults up and
down, faults), coloured by kind, oldest first; above it the count of every kind ever seen and
the active filter.

The filter is a kind (`c` cycles through them, then back to all) and words that must all
appear in a row (`/`, as in the message log); the table re-renders from the model's kept rows
(EVENT_ROWS), while the counts cover every row ever made. Between filter changes the table is
updated in place: rows dropped from the model go, changed rows are rewritten, new ones are
appended, and a cursor on the last row follows the newest.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.text import Text

from tui.model import EVENT_KINDS, VAULT, EventRow, NetworkModel
from tui.widgets.flow_log import matches
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.panel import Panel
from vaultnet.xor import short

COLUMNS = (("time", "time"), ("kind", "kind"), ("vault", "vault"), ("copy", "copy"),
           ("detail", "what happened"), ("seen", "seen by"), ("trace", "trace"))
STYLES = dict(zip(EVENT_KINDS, ("b magenta", "yellow", "red", "green", "b yellow", "b red",
                                "cyan", "bright_blue", "b red"), strict=True))
"""The colour of each kind (in EVENT_KINDS' order), in the table and in the counts above it."""


def cells(row: EventRow) -> tuple[str, ...]:
    """A row's cells as plain text (what the `/` words are matched against)."""
    return (f"{row.time:8.2f}s", row.kind, short(row.vault) if row.vault else "-",
            short(row.subject) if row.subject else "-", row.detail, str(len(row.reporters)),
            short(row.trace, 6) if row.trace else "-")


def _styled(row: EventRow) -> tuple[str, ...]:
    plain = cells(row)
    style = STYLES[row.kind]
    detail = escape(row.detail)
    if row.kind == VAULT:
        detail = f"[green]{detail}[/]" if row.detail == "up" else f"[red]{detail}[/]"
    return (plain[0], f"[{style}]{row.kind}[/]", plain[2], plain[3], detail, *plain[5:])


class EventTable(KeyedTable):
    """The kept rows that pass the filter (`kind`, `words`), keyed by their `seq`."""

    COLUMNS = COLUMNS
    WIDTHS = {"time": 9, "kind": 14, "vault": 8, "copy": 8, "seen": 7, "trace": 6}
    DEFAULT_CSS = "EventTable { height: 1fr; }"

    def __init__(self) -> None:
        """No filter: every kind, no words."""
        super().__init__()
        self.kind: str | None = None
        self.words: list[str] = []
        self._stamp = -1  # the model's EventLog.stamp when last shown; -1: rebuild

    def redraw(self) -> None:
        """Rebuild from the model at the next `show` (a replay replaced the model)."""
        self._stamp = -1

    def cycle_kind(self) -> None:
        """Show only the next kind in EVENT_KINDS (after the last one: every kind again)."""
        order: list[str | None] = [None, *EVENT_KINDS]
        self.kind = order[(order.index(self.kind) + 1) % len(order)]
        self._stamp = -1

    def set_words(self, text: str) -> None:
        """Show only rows holding every word of `text` (case-insensitive); empty: all rows."""
        self.words = text.lower().split()
        self._stamp = -1

    def passes(self, row: EventRow) -> bool:
        """Whether `row` passes the kind and the words of the filter."""
        return ((self.kind is None or row.kind == self.kind)
                and (not self.words or matches(" ".join(cells(row)), self.words)))

    def show(self, model: NetworkModel) -> None:
        """Bring the table up to the model: rebuilt after a filter change, else in place."""
        log = model.events
        if self._stamp == log.stamp:
            return
        rows = [row for row in log.rows if self.passes(row)]
        if self._stamp < 0:
            self.show_rows([(_key(row), _styled(row)) for row in rows])
            self.move_cursor(row=max(self.row_count - 1, 0))
        else:
            self._update(rows)
        self._stamp = log.stamp

    def _update(self, rows: list[EventRow]) -> None:
        following = self.cursor_row >= self.row_count - 1
        selected = self.selected_name()
        wanted = {_key(row).hex() for row in rows}
        for gone in [k for k in self.rows if str(k.value) not in wanted]:
            self.remove_row(gone)
        shown = {str(k.value) for k in self.rows}
        for row in rows:
            key = _key(row).hex()
            if key not in shown:
                self.add_row(*_styled(row), key=key)
            elif row.changed > self._stamp:
                self.update_cell(key, "seen", str(len(row.reporters)))
        if following:
            self.move_cursor(row=max(self.row_count - 1, 0))
        elif selected is not None and selected.hex() in wanted:
            self.move_cursor(row=self.get_row_index(selected.hex()))


def _key(row: EventRow) -> bytes:
    return row.seq.to_bytes(8, "big")


SHORT = dict(zip(EVENT_KINDS, ("evicted", "put failed", "removed", "replicated", "rank",
                               "integrity", "churn", "vault", "fault"), strict=True))
"""Each kind's name in the counts line when the full names do not fit on one line."""
TINY = dict(zip(EVENT_KINDS, ("ev", "pf", "rm", "rp", "rk", "in", "ch", "vt", "ft"), strict=True))
"""Each kind's name when even the short names do not fit (80 columns: the short names and
their counts take 88); the help (?) and docs/dashboard.md spell them out."""


def compact(count: int) -> str:
    """A count in at most 4 characters: 9999, 12k, 1.2M."""
    if count < 10_000:
        return str(count)
    if count < 1_000_000:
        return f"{count // 1000}k"
    return f"{count / 1_000_000:.1f}M"


class EventCounts(Panel):
    """Above the table: every kind with how many were ever seen (the kind shown reversed),
    then the filter and how many kept rows pass it, or that none does. Each line is written
    the longest way that fits the width (the full kind names and counts, else short ones),
    else two-letter ones), so at 80 columns neither wraps however large the counts grow."""

    DEFAULT_CSS = "EventCounts { height: auto; padding: 0 1; }"
    _lines: tuple[list[str], list[str]] = ([], [])  # each line's ways, longest first

    def show(self, model: NetworkModel, table: EventTable) -> None:
        """The counts of `model`'s event log, and `table`'s filter and rows."""
        log = model.events

        def counts(names: dict[str, str], number: Callable[[int], str], gap: str) -> str:
            parts = []
            for kind in EVENT_KINDS:
                count, name = log.counts[kind], names[kind]
                text = (f"[{STYLES[kind]}]{name}[/] {number(count)}" if count
                        else f"[dim]{name} 0[/]")
                parts.append(f"[reverse]{text}[/]" if kind == table.kind else text)
            return gap.join(parts)

        full = {kind: kind for kind in EVENT_KINDS}
        words = f" with '{escape(' '.join(table.words))}'" if table.words else ""
        what = f"{table.kind or 'every kind'}{words}"
        if not log.rows:
            shown = "no events yet: put chunks (p) until vaults fill, kill (K) or fault (f) one"
        elif not table.row_count:
            shown = f"[b reverse]no events match[/] {what}, among {len(log.rows):,} kept rows"
        else:
            shown = f"showing {what}: {table.row_count:,} of {len(log.rows):,} kept rows"
        self._lines = (
            [counts(full, "{:,}".format, "  "), counts(SHORT, compact, "  "),
             counts(SHORT, compact, " "), counts(TINY, compact, " ")],
            [f"{shown}  [dim](counts: all {log.reports:,} reports seen; rows: the last "
             f"{log.maxlen:,} kept)  c kind, / words[/]", f"{shown}  [dim]c kind, / words[/]",
             shown])
        self._fit()

    def on_resize(self) -> None:
        """Write the lines again the longest way that fits the new width."""
        self._fit()

    def _fit(self) -> None:
        width = self.content_region.width or self.app.size.width - 2
        text = "\n".join(next((way for way in ways if Text.from_markup(way).cell_len <= width),
                              ways[-1]) for ways in self._lines if ways)
        self.update(text)
