"""Pilot tests against a real embedded testnet (TCP on 127.0.0.1): keys inject operations and
the views show their consequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from textual.pilot import Pilot

from tests.tui.helpers import answer, event_rows, record_notifications, run_app, wait_until
from tui.app import VaultnetApp
from tui.model import StructuredRow, VersionedItem
from tui.network import LiveNetwork, NetworkConfig
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.message_table import MessageTable
from tui.widgets.ranking import RankingView
from tui.widgets.space_time import SpaceTime
from tui.widgets.structured_table import StructuredTable
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultTable
from tui.widgets.version_table import VersionTable, version_row
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import name_of, short


def cell(table: Any, row: bytes, column: str) -> str:
    return str(table.get_cell(row.hex(), column))


def held_anywhere(app: VaultnetApp, chunk: bytes) -> bool:
    assert app.network is not None
    copies = {copy_name(chunk, kind) for kind in CopyKind}
    return any(c in copies for v in app.network.net.vaults for c, _, _ in v.stored())


def test_put_delete_kill_and_fault_from_the_keyboard() -> None:
    app = VaultnetApp(NetworkConfig(vaults=8))

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await answer(pilot, "p", "2048")
        await wait_until(pilot, lambda: app.model.chunks, "the put to finish")
        chunk = next(iter(app.model.chunks))
        chunks = app.query_one(ChunkTable)
        await pilot.press("2")  # a view is drawn while it is shown
        await wait_until(pilot, lambda: chunks.row_count == 1 and cell(chunks, chunk, "P") != "-"
                         and cell(chunks, chunk, "B") != "-", "the chunk's holders shown")
        assert len(cell(chunks, chunk, "P").split()) == 2  # HOLDERS_PER_COPY

        await pilot.press("2")
        await answer(pilot, "D", "y")
        await wait_until(pilot, lambda: cell(chunks, chunk, "state") == "deleted",
                         "the chunk shown deleted")
        await wait_until(pilot, lambda: not held_anywhere(app, chunk), "copies removed")

        await pilot.press("1")
        vaults = app.query_one(VaultTable)
        victim = vaults.selected_name()
        assert victim is not None
        churn_before = app.model.summary.churn
        await answer(pilot, "K", "y")
        await wait_until(pilot, lambda: cell(vaults, victim, "state") == "down", "vault down")
        await wait_until(pilot, lambda: app.model.summary.churn > churn_before, "churn events")
        assert "7 up / 1 down" in str(app.query_one(SummaryBar).render())

        await pilot.press("up")  # the killed vault moved to the bottom, the cursor with it
        target = vaults.selected_name()
        assert target is not None and target != victim
        await answer(pilot, "f", "silent")
        await wait_until(pilot, lambda: "silent" in cell(vaults, target, "state"), "fault shown")
        await pilot.press("4")
        assert ("fault", target.hex()[:8], "silent") in [(r[1], r[2], r[4])
                                                         for r in event_rows(app)]

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_evictions_and_a_lying_vault_sinking_in_rank() -> None:
    app = VaultnetApp(NetworkConfig(vaults=8, capacity=30_000))
    posted = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        assert app.network is not None
        # One liar: when every vault lied, all could sink below the rank floor before any
        # Primary had to evict, and a network that refuses every holder evicts nothing.
        liar = app.network.net.vaults[0].name
        app.network.net.fault(liar, "lie")

        def sunk() -> bool:
            rank = app.model.vaults[liar].rank
            return rank is not None and rank < 1

        for _ in range(40):  # fill the network until Primaries evict and the liar is caught
            before = (len(app.model.chunks), len(posted))
            await answer(pilot, "p", "6000")
            await wait_until(pilot, lambda b=before: (len(app.model.chunks),
                                                      len(posted)) != b, "a put")
            if app.model.summary.evictions and sunk():
                break
        await wait_until(pilot, lambda: app.model.summary.evictions > 0, "an eviction")
        await wait_until(pilot, sunk, "a rank drop")
        await pilot.press("5")
        await pilot.pause()
        ranking = str(app.query_one(RankingView).render())
        first = ranking.splitlines()[2]
        assert first.split()[0] == short(liar)  # the lowest-ranked node is listed first
        assert float(first.split()[1]) < 1.0
        await pilot.press("4")
        assert any(row[1] == "eviction" for row in event_rows(app))

    run_app(app, body)


def test_bad_input_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    app = VaultnetApp(NetworkConfig(vaults=4))
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await answer(pilot, "p", str(tmp_path / "missing.bin"))
        await answer(pilot, "p", "64G")
        await pilot.press("2", "D")  # nothing selected
        await pilot.press("1")
        await answer(pilot, "f", "explode")
        await pilot.press("6", "v", "b")  # no version tree yet
        await answer(pilot, "n", " ")
        await answer(pilot, "m", "carol bob hi")
        await answer(pilot, "m", "alice")
        await answer(pilot, "o", "dave")
        await wait_until(pilot, lambda: len(texts) >= 10, "ten notifications")
        assert any("cannot read" in t and "missing.bin" in t for t in texts)
        assert any("a chunk must be 1 byte to" in t for t in texts)
        assert any("no chunk selected" in t for t in texts)
        assert any("unknown fault 'explode'" in t for t in texts)
        assert sum("no version tree selected" in t for t in texts) == 2
        assert any("a version tree needs a name" in t for t in texts)
        assert any("unknown identity 'carol'" in t for t in texts)
        assert any("say who sends, to whom and what" in t for t in texts)
        assert any("unknown identity 'dave'" in t for t in texts)
        assert not app.model.chunks and not app.model.versioned and not app.model.messages

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_a_network_crash_exits_non_zero_and_trio_unwinds() -> None:
    app = VaultnetApp(NetworkConfig(vaults=2))

    async def explode() -> None:
        raise RuntimeError("boom in the network")

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        app.guest.start_soon(explode)
        await wait_until(pilot, lambda: app.return_code is not None, "the app to exit")

    run_app(app, body)
    assert app.return_code == 1
    assert app.guest.finished

    async def later() -> int:  # a later trio.run in this process works (no run() inside run())
        await trio.sleep(0)
        return 7

    assert trio.run(later) == 7


def versions_of(app: VaultnetApp, label: str) -> VersionedItem | None:
    return next((i for i in app.model.versioned.values() if i.label == label), None)


def row_of(table: VersionTable, row: bytes) -> int:
    return [str(k.value) for k in table.rows].index(row.hex())


def test_version_tree_with_a_fork_and_an_offline_hold_from_the_keyboard() -> None:
    app = VaultnetApp(NetworkConfig(vaults=8))

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await pilot.press("6")
        table = app.query_one(VersionTable)
        await answer(pilot, "n", "doc the first draft")
        await wait_until(pilot, lambda: (d := versions_of(app, "doc")) and len(d.parents) == 1,
                         "the tree created")
        doc = versions_of(app, "doc")
        assert doc is not None and doc.root is not None
        root = doc.root
        await answer(pilot, "v", "second draft")  # under v0 (selected once it was put)
        await wait_until(pilot, lambda: len(doc.parents) == 2, "v1 put")
        table.move_cursor(row=row_of(table, version_row(doc.key, root)))
        await answer(pilot, "v", "another second draft")  # under v0 again: a fork
        await wait_until(pilot, lambda: len(doc.parents) == 3 and len(doc.tips) == 2
                         and doc.agreeing == len(doc.group) == 4, "the fork, agreed by 4")
        drawn = [str(table.get_cell_at((i, 0))) for i in range(table.row_count)]
        assert any("├─● v1" in line for line in drawn) and any("└─● v1" in line
                                                               for line in drawn)
        assert "fork" in cell(table, version_row(doc.key, root), "note")
        assert "3 versions, 2 tips" in cell(table, doc.key, "note")

        await pilot.press("t")  # the fork's put: MaidNode → MaidManager → VersionManager
        flow = str(app.query_one(SpaceTime).render())
        assert "VersionMgr" in flow and "version put" in flow and "put_version" in flow

        await pilot.press("6")
        assert app.network is not None
        bob = app.network.mpids()["bob"]
        await wait_until(pilot, lambda: list(app.model.identity_state.values())
                         == ["online", "online"], "alice and bob online")
        await answer(pilot, "o", "bob")
        await wait_until(pilot, lambda: app.model.identity_state.get(bob.name)
                         == "offline", "bob offline")
        await answer(pilot, "m", "alice bob are you there")
        messages = app.query_one(MessageTable)
        await wait_until(pilot, lambda: app.model.messages, "the message")
        message = next(iter(app.model.messages.values()))
        await wait_until(pilot, lambda: "held" in cell(messages, message.trace, "state")
                         and len(message.held_by) == 4, "held by bob's 4 MpidManagers")
        await pilot.press("3")
        flow = str(app.query_one(SpaceTime).render())  # the send, followed as it started
        assert "alice" in flow and "bob" in flow and "deliver" in flow and "held" in flow
        await pilot.press("6")

        await answer(pilot, "o", "bob")
        await wait_until(pilot, lambda: "delivered" in cell(messages, message.trace, "state")
                         and cell(messages, message.trace, "got") == "✓"
                         and not message.held_by, "delivered to bob on his return")
        await pilot.press("3")
        flow = str(app.query_one(SpaceTime).render())  # bob's return: the push and the ack
        assert "online" in flow and "message" in flow and "ack" in flow and "delivered" in flow

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_a_unique_put_from_the_prompt_is_refused_when_the_chunk_is_stored(
        tmp_path: Path) -> None:
    """'unique FILE' in the put prompt is a Put<Unique>: stored the first time, refused the
    second (DataExists, a notification), while a plain put of the same file still succeeds."""
    chunk_file = tmp_path / "chunk"
    chunk_file.write_bytes(b"unique content " * 100)
    app = VaultnetApp(NetworkConfig(vaults=8))
    notes = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await answer(pilot, "p", f"unique {chunk_file}")
        await wait_until(pilot, lambda: any(n.startswith("stored unique chunk") for n in notes),
                         "the unique put stored")
        await answer(pilot, "p", f"unique {chunk_file}")
        await wait_until(pilot, lambda: any(n.startswith("put failed") for n in notes),
                         "the second unique put refused")
        await answer(pilot, "p", str(chunk_file))
        await wait_until(pilot, lambda: any(n.startswith("stored chunk") for n in notes),
                         "the plain put stored")

    run_app(app, body)
    assert app.return_code in (None, 0)
    failed = [n for n in notes if n.startswith("put failed")]
    assert len(failed) == 1 and "exist" in failed[0].lower(), notes


def structured_row(app: VaultnetApp, name: bytes) -> StructuredRow | None:
    return next((r for r in app.model.structured if r.name == name), None)


def agreed_at(app: VaultnetApp, name: bytes, version: int) -> bool:
    """The model has the record at `version` on its whole group, and view 6's table shows
    that version (it is drawn after the model changes)."""
    row = structured_row(app, name)
    if row is None or row.version != version or not row.holding == len(row.group) == 4:
        return False
    table = app.query_one(StructuredTable)
    return name.hex() in table.rows and cell(table, name, "version") == f"v{version}"


def test_structured_data_put_update_refusals_and_delete_from_the_keyboard() -> None:
    app = VaultnetApp(NetworkConfig(vaults=8))
    texts = record_notifications(app)
    profile, board = name_of(b"profile"), name_of(b"board")

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        network = app.network
        assert isinstance(network, LiveNetwork)
        await pilot.press("6")
        table = app.query_one(StructuredTable)
        await answer(pilot, "s", "profile status: here")
        await wait_until(pilot, lambda: agreed_at(app, profile, 0), "v0 held by its group")
        row = structured_row(app, profile)
        assert row is not None and (row.size, row.mine) == (len(b"status: here"), True)
        assert "(you)" in cell(table, profile, "owner") and "4/4" in cell(table, profile, "group")

        await answer(pilot, "u", "status: away")  # the only row is selected
        await wait_until(pilot, lambda: agreed_at(app, profile, 1), "v1 held by its group")
        assert cell(table, profile, "version") == "v1"
        assert any(t == f"record {profile.hex()[:8]}: updated to v1" for t in texts)
        await answer(pilot, "s", "profile again")  # the name holds a record already
        await wait_until(pilot, lambda: any(t.startswith("put record failed") for t in texts),
                         "the second put refused")

        async def someone_else_puts() -> str:
            other = await network.net.client()
            await other.put_structured(board, b"not yours")
            return "another client put the board"

        app.start_operation("another client's put", someone_else_puts)
        await wait_until(pilot, lambda: agreed_at(app, board, 0), "the board held")
        assert "(you)" not in cell(table, board, "owner")
        table.move_cursor(row=[str(k.value) for k in table.rows].index(board.hex()))
        await answer(pilot, "u", "mine now")
        await wait_until(pilot, lambda: any(t.startswith("update record failed") for t in texts),
                         "the update of someone else's record refused")
        assert "owner" in next(t for t in texts if t.startswith("update record failed"))
        assert agreed_at(app, board, 0)

        table.move_cursor(row=[str(k.value) for k in table.rows].index(profile.hex()))
        await answer(pilot, "X", "y")
        await wait_until(pilot, lambda: structured_row(app, profile) is None,
                         "the profile deleted")
        await pilot.press("3")  # the delete, followed as it started
        flow = str(app.query_one(SpaceTime).render())
        assert "delete_structured" in flow and "record deleted" in flow

    run_app(app, body)
    assert app.return_code in (None, 0)
