"""Pilot tests against a real embedded testnet (TCP on 127.0.0.1): keys inject operations and
the views show their consequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from textual.pilot import Pilot

from tests.tui.helpers import answer, run_app, wait_until
from tui.app import VaultnetApp
from tui.network import NetworkConfig
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.flow_log import FilteredLog
from tui.widgets.ranking import RankingView
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultTable
from vaultnet.store import CopyKind, copy_name


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
        await wait_until(pilot, lambda: chunks.row_count == 1 and cell(chunks, chunk, "P") != "-"
                         and cell(chunks, chunk, "B") != "-", "the chunk's holders shown")
        assert len(cell(chunks, chunk, "P").split()) == 2  # HOLDERS_PER_COPY

        await pilot.press("2", "d")
        await wait_until(pilot, lambda: cell(chunks, chunk, "state") == "deleted",
                         "the chunk shown deleted")
        await wait_until(pilot, lambda: not held_anywhere(app, chunk), "copies removed")

        await pilot.press("1")
        vaults = app.query_one(VaultTable)
        victim = vaults.selected_name()
        assert victim is not None
        churn_before = app.model.summary.churn
        await pilot.press("k")
        await wait_until(pilot, lambda: cell(vaults, victim, "state") == "down", "vault down")
        await wait_until(pilot, lambda: app.model.summary.churn > churn_before, "churn events")
        assert "7 up / 1 down" in str(app.query_one(SummaryBar).render())

        await pilot.press("up")  # the killed vault moved to the bottom, the cursor with it
        target = vaults.selected_name()
        assert target is not None and target != victim
        await answer(pilot, "f", "silent")
        await wait_until(pilot, lambda: "silent" in cell(vaults, target, "state"), "fault shown")
        notable = app.query_one("#notable-log", FilteredLog)
        assert any(f"fault    {target.hex()[:8]} silent" in line for line in notable.lines)

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_evictions_and_a_lying_vault_sinking_in_rank() -> None:
    app = VaultnetApp(NetworkConfig(vaults=8, capacity=30_000))

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        assert app.network is not None
        for vault in app.network.net.vaults:
            app.network.net.fault(vault.name, "lie")
        def sunk() -> bool:
            return any(r.rank is not None and r.rank < 1 for r in app.model.vaults.values())

        for _ in range(40):  # fill the network until Primaries evict and a liar is caught
            before = (len(app.model.chunks), len(app._notifications))
            await answer(pilot, "p", "6000")
            await wait_until(pilot, lambda b=before: (len(app.model.chunks),
                                                      len(app._notifications)) != b, "a put")
            if app.model.summary.evictions and sunk():
                break
        await wait_until(pilot, lambda: app.model.summary.evictions > 0, "an eviction")
        await wait_until(pilot, sunk, "a rank drop")
        await pilot.press("5")
        await pilot.pause()
        ranking = str(app.query_one(RankingView).render())
        first = ranking.splitlines()[2]
        assert float(first.split()[1]) < 1.0  # the lowest-ranked node is listed first
        notable = app.query_one("#notable-log", FilteredLog)
        assert any("sacrificial_evicted" in line for line in notable.lines)

    run_app(app, body)


def test_bad_input_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    app = VaultnetApp(NetworkConfig(vaults=4))

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await answer(pilot, "p", str(tmp_path / "missing.bin"))
        await answer(pilot, "p", "64G")
        await pilot.press("2", "d")  # nothing selected
        await pilot.press("1")
        await answer(pilot, "f", "explode")
        await wait_until(pilot, lambda: len(app._notifications) >= 4, "four notifications")
        texts = [n.message for n in app._notifications]
        assert any("cannot read" in t and "missing.bin" in t for t in texts)
        assert any("a chunk must be 1 byte to" in t for t in texts)
        assert any("no chunk selected" in t for t in texts)
        assert any("unknown fault 'explode'" in t for t in texts)
        assert not app.model.chunks

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
