"""View 6's structured data records with the testnet in another process: the dashboard's default
(`vaultnet tui` starts a `vaultnet testnet` and steers it through its control port) and
`--attach`. The keys put, update and delete records with the testnet's client, "(you)" marks
that client's records, and a refusal is the usual one-line notice."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.test_cli_data import vaultnet
from tests.tui.helpers import answer, record_notifications, run_app, wait_until
from tests.tui.test_attach import running_process
from tests.tui.test_live import agreed_at, cell, structured_row
from tui.app import VaultnetApp
from tui.widgets.structured_table import StructuredTable
from vaultnet.cli import main as cli
from vaultnet.control import process
from vaultnet.control.handle import NetworkHandle
from vaultnet.xor import name_of

PROFILE, BOARD = name_of(b"profile"), name_of(b"board")


@pytest.mark.parametrize("how", ["started", "attached"])
def test_records_put_updated_refused_and_deleted_from_the_keyboard(
        tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "net"
    with contextlib.ExitStack() as stack:
        network: NetworkHandle
        if how == "started":
            network = stack.enter_context(process.testnet_process(8, data_dir=data_dir))
        else:
            stack.enter_context(running_process(data_dir, vaults=8))
            network = cli.attached_network(data_dir)
        app = VaultnetApp(network=network)
        texts = record_notifications(app)
        other = tmp_path / "board.txt"
        other.write_bytes(b"someone else's")

        async def body(pilot: Pilot[Any]) -> None:
            await wait_until(pilot, lambda: network.ready, "the testnet's session")
            await pilot.press("6")
            table = app.query_one(StructuredTable)
            assert table.border_title == "structured data: none yet (s puts a record)"
            await answer(pilot, "s", "profile status: here")
            await wait_until(pilot, lambda: agreed_at(app, PROFILE, 0),
                             lambda: f"v0 held by its group ({texts})")
            row = structured_row(app, PROFILE)
            assert row is not None and (row.size, row.mine) == (len(b"status: here"), True)
            assert "(you)" in cell(table, PROFILE, "owner")
            assert row.owner == network.owner_key()

            await answer(pilot, "u", "status: away")  # the only row is selected
            await wait_until(pilot, lambda: agreed_at(app, PROFILE, 1), "v1 held by its group")
            assert cell(table, PROFILE, "version") == "v1"
            assert f"record {PROFILE.hex()[:8]}: updated to v1" in texts
            await answer(pilot, "s", "profile again")  # the name holds a record already
            await wait_until(pilot, lambda: any(t.startswith("put record failed") for t in texts),
                             "the second put refused")
            refused = next(t for t in texts if t.startswith("put record failed"))
            assert f"structured data at {PROFILE.hex()[:16]}" in refused and "\n" not in refused

            put = await asyncio.to_thread(vaultnet, "sd", "put", "board", str(other),
                                          "--data-dir", str(data_dir))
            assert put.returncode == 0, put.stderr  # another client's record
            await wait_until(pilot, lambda: agreed_at(app, BOARD, 0), "the board held")
            assert "(you)" not in cell(table, BOARD, "owner")
            table.move_cursor(row=[str(k.value) for k in table.rows].index(BOARD.hex()))
            await answer(pilot, "u", "mine now")
            await wait_until(pilot, lambda: any(t.startswith("update record failed")
                                                for t in texts), "the board's update refused")
            assert "owner" in next(t for t in texts if t.startswith("update record failed"))
            assert agreed_at(app, BOARD, 0)

            table.move_cursor(row=[str(k.value) for k in table.rows].index(PROFILE.hex()))
            await answer(pilot, "X", "y")
            # The model changes first; the notice (the client's answer) and the table's
            # border (its next draw) follow: wait for all three.
            deleted = f"record {PROFILE.hex()[:8]}: deleted at v1"
            await wait_until(pilot, lambda: structured_row(app, PROFILE) is None
                             and deleted in texts
                             and table.border_title == "structured data: 1 record",
                             "the profile deleted, the notice shown, the table redrawn")
            await pilot.press("q")

        run_app(app, body)
    assert app.return_code in (None, 0)
