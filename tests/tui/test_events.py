"""View 4, the events table: a group's reports folded into one row per happening, an eviction
shown as an eviction, the kind (c) and word (/) filters shown and applied, and counts per kind
that cover every event seen, not only the rows kept."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TabbedContent

from tests.tui.helpers import answer, event_rows, record_notifications, run_app, wait_until
from tui.app import VaultnetApp
from tui.messages import ModelRefreshed
from tui.model import EVENT_KINDS, EVENT_ROWS, FOLD_SECONDS, NetworkModel
from tui.network import NetworkConfig
from tui.widgets.event_table import EventCounts, EventTable
from vaultnet.personas.pmid_node import EVICTED
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.xor import name_of, short

NODE, FULL, GONE, COPY, OTHER, PRIMARY = (name_of(n) for n in (b"node", b"full", b"gone", b"copy",
                                                                b"other", b"primary"))
MANAGERS = [name_of(b"manager %d" % i) for i in range(4)]
TRACE = bytes(range(16))


def note(time: float, vault: bytes, what: str, persona: str, subject: bytes,
         **detail: Any) -> ev.PersonaEvent:
    """A persona's note under TRACE, as a vault emits it."""
    return ev.PersonaEvent(time, vault, what, persona, subject, TRACE, detail)


def happenings() -> list[ev.Event]:
    """One eviction (the node's note and its 4 PmidManagers' put failures giving EVICTED), one
    refused put (the node and its 4 managers), a vault gone as 3 vaults saw it, and the same
    vault gone again as one saw it FOLD_SECONDS later (it had come back meanwhile)."""
    return [
        note(1.0, NODE, EventKind.SACRIFICIAL_EVICTED, "PmidNode", COPY, size=5000,
             for_copy=PRIMARY),
        *(note(1.1, m, EventKind.PUT_FAILURE, "PmidManager", COPY, node=NODE, reason=EVICTED)
          for m in MANAGERS),
        note(1.2, FULL, EventKind.PUT_FAILURE, "PmidNode", OTHER, kind="B",
             reason="full (0 bytes free)"),
        *(note(1.3, m, EventKind.PUT_FAILURE, "PmidManager", OTHER, node=FULL,
               reason="full (0 bytes free)") for m in MANAGERS),
        *(ev.Churn(2.0 + i / 10, m, lost=GONE) for i, m in enumerate(MANAGERS[:3])),
        ev.Churn(2.0 + FOLD_SECONDS + 1, NODE, lost=GONE),
    ]


def header(app: VaultnetApp) -> str:
    """The two lines above view 4's table, as plain text."""
    return str(app.query_one(EventCounts).render())


def test_a_groups_reports_fold_into_one_row_per_happening() -> None:
    model = NetworkModel(30_000)
    model.ingest(happenings())
    rows = list(model.events.rows)
    assert [(r.kind, r.vault, r.subject, len(r.reporters)) for r in rows] == [
        ("eviction", NODE, COPY, 5), ("put failure", FULL, OTHER, 5), ("churn", GONE, b"", 3),
        ("churn", GONE, b"", 1)]
    assert rows[0].detail == f"S copy, 5000 B evicted for primary {short(PRIMARY)}"
    assert rows[1].detail == "B copy refused: full (0 bytes free)"
    assert model.events.counts == {"eviction": 1, "put failure": 1, "churn": 2}
    assert model.events.reports == len(happenings())


def test_the_kind_and_word_filters_narrow_the_rows_and_are_shown() -> None:
    model = NetworkModel(30_000)
    model.ingest(happenings())
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        table = app.query_one(EventTable)
        assert app.focused is table
        assert [r[1] for r in event_rows(app)] == ["eviction", "put failure", "churn", "churn"]
        assert "eviction 1  put failure 1  holder removed 0" in header(app)
        assert "churn 2" in header(app)
        assert "showing every kind: 4 of 4 kept rows" in header(app)

        await pilot.press("c")
        assert table.kind == "eviction"
        assert event_rows(app) == [("    0.00s", "eviction", short(NODE), short(COPY),
                                    f"S copy, 5000 B evicted for primary {short(PRIMARY)}",
                                    "5", short(TRACE, 6))]
        assert "showing eviction: 1 of 4 kept rows" in header(app)
        await pilot.press("c")
        assert [r[1:3] for r in event_rows(app)] == [("put failure", short(FULL))]
        await pilot.press("c")  # holder removed: none seen
        assert not event_rows(app)
        assert "no events match holder removed, among 4 kept rows" in header(app)
        await pilot.press(*"c" * (len(EVENT_KINDS) - 2))  # past the last kind: all again
        assert table.kind is None and len(event_rows(app)) == 4

        await answer(pilot, "slash", short(GONE))
        assert app.query_one(TabbedContent).active == "evictions-pane"  # not the message log
        assert [r[1:3] for r in event_rows(app)] == [("churn", short(GONE))] * 2
        assert f"showing every kind with '{short(GONE)}': 2 of 4 kept rows" in header(app)
        assert app.filter_text == ""
        await pilot.press("c")  # kind and words together: an eviction of GONE, none
        assert "no events match eviction with" in header(app) and not event_rows(app)

    run_app(app, body)


def test_counts_cover_every_event_seen_not_only_the_rows_kept() -> None:
    model = NetworkModel(30_000)
    model.ingest(happenings())
    extra = EVENT_ROWS + 500
    model.ingest([ev.VaultUp(3.0 + i / 1000, name_of(b"%d" % i)) for i in range(extra)])
    assert len(model.events.rows) == EVENT_ROWS
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        assert len(event_rows(app)) == EVENT_ROWS
        assert f"vault {extra:,}  " in header(app) and "eviction 1  " in header(app)
        assert f"{EVENT_ROWS:,} of {EVENT_ROWS:,} kept rows" in header(app)
        table = app.query_one(EventTable)
        assert table.cursor_row == EVENT_ROWS - 1  # on the newest row: it follows
        oldest = event_rows(app)[0]

        downs = [ev.VaultDown(9.0 + i / 10, name_of(b"%d" % i), "stopped") for i in range(3)]
        model.ingest(downs)  # updated in place: 3 rows dropped at the top, 3 appended
        app.post_message(ModelRefreshed())
        await pilot.pause()
        rows = event_rows(app)
        assert len(rows) == EVENT_ROWS and oldest not in rows
        assert [r[1:5] for r in rows[-3:]] == [("vault", short(d.vault), "-", "down: stopped")
                                               for d in downs]
        assert table.cursor_row == EVENT_ROWS - 1
        assert f"vault {extra + 3:,}  " in header(app)
        await pilot.press("c")  # the eviction is counted, but no longer kept
        assert not event_rows(app)
        assert "no events match eviction" in header(app)

    run_app(app, body)


def test_an_eviction_on_a_full_network_is_an_eviction_row() -> None:
    """Puts on 8 small vaults until one evicts a Sacrificial copy for a Primary: view 4 shows
    each eviction as one eviction row (not as its PmidManagers' put failures), and counts as
    many evictions and vaults as the network emitted."""
    app = VaultnetApp(NetworkConfig(vaults=8, capacity=30_000))
    posted = record_notifications(app)
    emitted: list[ev.Event] = []

    def evictions() -> list[ev.PersonaEvent]:
        return [e for e in emitted if isinstance(e, ev.PersonaEvent)
                and e.what == EventKind.SACRIFICIAL_EVICTED]

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        assert app.network is not None
        app.network.net.bus.add_sink(emitted.append)
        for _ in range(40):
            before = (len(app.model.chunks), len(posted))
            await answer(pilot, "p", "6000")
            await wait_until(pilot, lambda b=before: (len(app.model.chunks),
                                                      len(posted)) != b, "a put")
            if evictions():
                break
        first = evictions()[0]
        await pilot.press("4")
        await wait_until(pilot, lambda: ("eviction", short(first.vault), short(first.subject))
                         in [r[1:4] for r in event_rows(app)], "the eviction's row")
        await wait_until(pilot, lambda: app.model.events.counts["eviction"] == len(evictions())
                         and f"eviction {len(evictions())}  " in header(app),
                         lambda: f"{len(evictions())} evictions counted: {header(app)}")
        assert app.model.events.counts["vault"] == 8
        assert not [r for r in event_rows(app) if r[1] == "put failure" and "evicted" in r[4]]

        await pilot.press("c")
        await wait_until(pilot, lambda: "showing eviction:" in header(app), "the filter shown")
        kinds = {r[1] for r in event_rows(app)}
        assert kinds == {"eviction"}

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_the_count_lines_do_not_wrap_at_120_columns() -> None:
    """Large counts (a long session) at 120 columns: each kind and its count still on one
    line, and the line under it too; with small counts the full kind names are kept."""
    model = NetworkModel(capacity=1 << 20)
    model.ingest(happenings())
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        counts = app.query_one(EventCounts)
        assert counts.region.height == 2
        assert "put failure 1  holder removed 0" in str(counts.render())  # the full names fit
        for i, kind in enumerate(EVENT_KINDS):
            model.events.counts[kind] = 123_456 + i
        model.events.reports = 9_876_543
        app.post_message(ModelRefreshed())
        await wait_until(pilot, lambda: "123k" in str(counts.render()), "the counts redrawn")
        assert counts.region.height == 2
        lines = str(counts.render()).splitlines()
        assert len(lines) == 2 and all(len(line) <= 118 for line in lines), lines
        assert "evicted 123k" in lines[0] and "fault 123k" in lines[0]

    async def main() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await body(pilot)

    asyncio.run(main())


def test_the_count_lines_do_not_wrap_at_80_columns() -> None:
    """At 80x24, the smallest terminal the dashboard takes, the counts line falls back to
    two-letter kinds rather than wrap, small counts or large."""
    model = NetworkModel(capacity=1 << 20)
    model.ingest(happenings())
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        counts = app.query_one(EventCounts)
        await wait_until(pilot, lambda: counts.region.width > 0, "the counts laid out")
        assert counts.region.height == 2
        assert "pf 1 rm 0" in str(counts.render())
        for i, kind in enumerate(EVENT_KINDS):
            model.events.counts[kind] = 1_234_567 + i
        app.post_message(ModelRefreshed())
        await wait_until(pilot, lambda: "1.2M" in str(counts.render()), "the counts redrawn")
        assert counts.region.height == 2
        lines = str(counts.render()).splitlines()
        assert len(lines) == 2 and all(len(line) <= 78 for line in lines), lines
        assert lines[0].startswith("ev 1.2M") and lines[0].endswith("ft 1.2M"), lines

    async def main() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await body(pilot)

    asyncio.run(main())
