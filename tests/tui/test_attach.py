"""`vaultnet tui --attach`: the dashboard on a real `vaultnet testnet` process, through its
control port. Keys act on that testnet, other clients' work shows, and `q` leaves it running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.test_cli import one_error_line
from tests.test_ctl import ctl
from tests.tui.helpers import answer, record_notifications, run_app, wait_until
from tui import model
from tui.app import VaultnetApp
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultTable
from vaultnet.cli import main as cli
from vaultnet.cli.addresses import read_address_file
from vaultnet.control import process, reading
from vaultnet.control.auth import TOKEN_FILE
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.storage.store import CopyKind, copy_name

START_DEADLINE = 60.0
"""Seconds a testnet process has to write its address file and control token."""


@contextlib.contextmanager
def running_process(data_dir: Path, vaults: int) -> Iterator[subprocess.Popen[bytes]]:
    """A `vaultnet testnet` process on `data_dir`, once its address file names its control
    port and its token is there; stopped with SIGTERM at the end (it must exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--vaults",
                             str(vaults), "--data-dir", str(data_dir)],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _serving(data_dir):
            assert proc.poll() is None, "the testnet exited before it was up"
            assert time.monotonic() < deadline, "the testnet did not write its address file"
            time.sleep(0.1)  # polling a file another process writes: no event to wait on
        yield proc
    finally:
        if proc.poll() is None:  # a test may have stopped it already
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def _serving(data_dir: Path) -> bool:
    try:
        record = json.loads((data_dir / cli.ADDRESS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return "control" in record and (data_dir / TOKEN_FILE).is_file()


def vaultnet(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `vaultnet ARGS` as another client would."""
    return subprocess.run([sys.executable, "-m", "vaultnet", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_the_dashboard_attaches_acts_and_leaves_the_testnet_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "net"
    with running_process(data_dir, vaults=6) as proc:
        app = VaultnetApp(network=cli.attached_network(data_dir))
        notes = record_notifications(app)
        seen: list[ev.Event] = []
        app.model.journal = lambda op, args, _: seen.extend(args[0]) if op == "ingest" else None

        async def body(pilot: Pilot[Any]) -> None:
            vaults = app.query_one(VaultTable)
            await wait_until(pilot, lambda: vaults.row_count == 6, "the testnet's six vaults")
            assert app.status.startswith("attached 127.0.0.1:") and "tcp 6 vaults" in app.status

            await answer(pilot, "p", "4096")  # stored by the testnet's own dashboard client
            await wait_until(pilot, lambda: app.model.chunks, lambda: f"the put ({notes})")
            name = next(iter(app.model.chunks))
            await wait_until(pilot, lambda: app.model.chunks[name].holders.get("P"),
                             "its holders, from a reading")
            out = tmp_path / "got.bin"
            got = await asyncio.to_thread(vaultnet, "get", name.hex(), "-o", out,
                                          "--data-dir", data_dir)
            assert got.returncode == 0, got.stderr
            assert len(out.read_bytes()) == 4096

            await pilot.press("2")
            await pilot.press("g")
            await wait_until(pilot, lambda: any("got chunk" in n for n in notes), "the get")

            other = tmp_path / "other.bin"
            other.write_bytes(b"from another client" * 100)
            put = await asyncio.to_thread(vaultnet, "put", other, "--data-dir", data_dir)
            assert put.returncode == 0, put.stderr
            copies = {copy_name(bytes.fromhex(put.stdout.strip()), k) for k in CopyKind}
            await wait_until(pilot, lambda: any(
                isinstance(e, ev.PersonaEvent) and e.what == EventKind.CHUNK_STORED
                and e.subject in copies for e in seen), "the other client's put, as events")

            await pilot.press("1")
            await pilot.press("a")
            await wait_until(pilot, lambda: vaults.row_count == 7, "the added vault shown")

            await wait_until(pilot, lambda: list(app.model.identity_state.values())
                             == ["online", "online"], "the testnet's alice and bob online")
            await answer(pilot, "m", "alice bob hello over the control port")
            await wait_until(pilot, lambda: any(
                m.state == "delivered" and m.received for m in app.model.messages.values()),
                lambda: f"the message delivered ({notes})")

            await answer(pilot, "n", "notes first draft")  # a chunk, then a version of it
            await wait_until(pilot, lambda: any(
                item.label == "notes" and len(item.tips) == 1 and item.agreeing == 4
                for item in app.model.versioned.values()), "the tree, as its group holds it")

            await pilot.press("1")
            await answer(pilot, "K", "y")
            await wait_until(pilot, lambda: app.model.summary.vaults_down == 1,
                             "the killed vault shown down")

            await pilot.press("q")

        run_app(app, body)
        assert proc.poll() is None  # q detached; the testnet runs on
        status = ctl(data_dir, "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("vaults=6 ")  # 6, one added, one killed


@pytest.mark.parametrize("how", ["started", "attached"])
def test_the_header_says_attached_only_when_attached(tmp_path: Path, how: str) -> None:
    """`vaultnet tui` (the dashboard starts its own testnet process) shows that testnet's
    transport and vaults, as the in-process dashboard does; `--attach` says attached."""
    data_dir = tmp_path / "net"
    with contextlib.ExitStack() as stack:
        if how == "started":
            network = stack.enter_context(process.testnet_process(4, data_dir=data_dir))
        else:
            stack.enter_context(running_process(data_dir, vaults=4))
            network = cli.attached_network(data_dir)
        app = VaultnetApp(network=network)

        async def body(pilot: Pilot[Any]) -> None:
            header = app.query_one(SummaryBar)
            await wait_until(pilot, lambda: "4 up" in str(header.render()),
                             lambda: f"the header with the four vaults ({header.render()})")
            text = str(header.render())
            if how == "started":
                assert "attached" not in text and text.startswith("vaultnet  tcp 4 vaults  ")
            else:
                assert text.startswith("vaultnet  attached 127.0.0.1:")
                assert ": tcp 4 vaults  " in text

        run_app(app, body)


@pytest.mark.parametrize("problem", ["no testnet", "no token"])
def test_attach_without_a_testnet_to_steer_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str) -> None:
    data_dir = tmp_path / "net"
    if problem == "no token":  # an address file naming a live process, but no token
        data_dir.mkdir()
        (data_dir / cli.ADDRESS_FILE).write_text(json.dumps({
            "format": cli.ADDRESS_FORMAT, "pid": 1, "bootstrap": ["127.0.0.1:1"],
            "transport": "tcp", "control": "127.0.0.1:1"}))
    assert cli.main(["tui", "--attach", str(data_dir)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("vaultnet: error: cannot attach: ")
    assert ("no running testnet found" if problem == "no testnet"
            else "cannot read control token") in line


def test_what_the_model_follows_fits_one_reading_query() -> None:
    assert model.CHUNKS_KEPT <= reading.MAX_CHUNKS
    assert model.VERSIONED_KEPT <= reading.MAX_TREES
    assert model.MESSAGES_SAMPLED <= reading.MAX_MESSAGES


def test_the_dashboard_says_so_when_the_attached_testnet_stops(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "net"
    with running_process(data_dir, vaults=4) as proc:
        app = VaultnetApp(network=cli.attached_network(data_dir))

        async def body(pilot: Pilot[Any]) -> None:
            await wait_until(pilot, lambda: app.model.vaults, "the testnet's vaults")
            proc.send_signal(signal.SIGINT)  # stops cleanly, as a user's ctrl+c would
            assert await asyncio.to_thread(proc.wait, 60) == 0
            await wait_until(pilot, lambda: app.return_code is not None, "the app to exit")

        run_app(app, body)
        assert app.return_code == 1
        said = " ".join(capsys.readouterr().err.split())  # the terminal's width wraps it
        assert said.startswith("vaultnet: error: lost the attached testnet: ControlClosed: "
                               "the testnet on 127.0.0.1:"), said


def test_the_dashboard_says_so_when_its_own_testnet_process_dies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`vaultnet tui` without --attach: the testnet process it started is killed, and the
    dashboard exits 1 saying it lost its testnet process (not an "attached" one)."""
    data_dir = tmp_path / "net"
    with process.testnet_process(4, data_dir=data_dir) as network:
        app = VaultnetApp(network=network)

        async def body(pilot: Pilot[Any]) -> None:
            await wait_until(pilot, lambda: app.model.vaults, "the testnet's vaults")
            os.kill(read_address_file(data_dir)["pid"], signal.SIGKILL)
            await wait_until(pilot, lambda: app.return_code is not None, "the app to exit")

        run_app(app, body)
    assert app.return_code == 1
    said = " ".join(capsys.readouterr().err.split())
    assert said.startswith("vaultnet: error: lost its testnet process: ControlClosed: "), said


@pytest.mark.parametrize("flag", ["--record", "--replay"])
def test_attach_with_record_or_replay_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str) -> None:
    assert cli.main(["tui", "--attach", str(tmp_path), flag, str(tmp_path / "x")]) == 2
    assert "cannot also --replay or --record" in one_error_line(capsys.readouterr().err)


def test_the_dashboards_own_testnet_failing_to_start_is_one_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "net"
    with running_process(data_dir, vaults=4):  # the data directory is taken
        assert cli.main(["tui", "--vaults", "4", "--data-dir", str(data_dir)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("vaultnet: error: the dashboard's testnet did not start (exit 1): "
                           "vaultnet: error: a testnet is already running here"), line
