"""Prompts under keys typed faster than the app handles them, and files at the put prompt that
must not be read: a live 4-vault TCP testnet behind the app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.helpers import answer, burst, key_state, record_notifications, run_app, wait_until
from tui.app import VaultnetApp
from tui.network import NetworkConfig
from tui.screens.ask import AskScreen
from vaultnet.client.maid import MAX_CHUNK_SIZE
from vaultnet.xor import name_of

PUTS = 30


def network_up(app: VaultnetApp) -> bool:
    return app.network is not None and app.network.ready


def prompt_open(app: VaultnetApp) -> bool:
    return isinstance(app.screen, AskScreen)


def test_two_enters_at_once_answer_the_put_prompt_once() -> None:
    """p enter enter in one burst, then again with the prompt already open: each prompt is
    answered once (one put each), the extra enter goes to the table below, no crash."""
    app = VaultnetApp(NetworkConfig(vaults=4))

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: network_up(app), "network up")
        burst(app, ["p", "enter", "enter"])
        await wait_until(pilot, lambda: len(app.model.chunks) == 1, "the first put")
        assert not prompt_open(app)
        await pilot.press("p")
        await wait_until(pilot, lambda: prompt_open(app)
                         and isinstance(app.focused, Input),
                         lambda: f"the prompt focused; {key_state(app)}")
        burst(app, ["enter", "enter"])
        await wait_until(pilot, lambda: len(app.model.chunks) == 2, "the second put")
        assert not prompt_open(app)
        assert len(app.screen_stack) == 1

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_a_burst_of_puts_typed_ahead_loses_none(tmp_path: Path) -> None:
    """30 times p, a file's path, enter, all typed before the first prompt has opened: every
    key lands in the prompt it was typed for, so every file is put."""
    files = []
    for i in range(PUTS):
        path = tmp_path / f"f{i}"
        path.write_bytes(f"chunk number {i} ".encode() * 50)
        files.append(path)
    app = VaultnetApp(NetworkConfig(vaults=4))
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: network_up(app), "network up")
        burst(app, [key for path in files for key in ("p", *str(path), "enter")])
        wanted = {name_of(path.read_bytes()) for path in files}
        await wait_until(pilot, lambda: set(app.model.chunks) == wanted,
                         lambda: f"{PUTS} puts, one for each file; {len(app.model.chunks)} "
                                 f"done, screens {app.screen_stack}, notices {texts}",
                         deadline=180)
        await wait_until(pilot, lambda: not prompt_open(app), "no prompt left open")

    run_app(app, body)
    assert app.return_code in (None, 0)


def test_files_that_cannot_be_a_chunk_are_refused_without_reading(tmp_path: Path) -> None:
    """/dev/zero (endless) and a 2 GiB sparse file: refused with one notice each, nothing
    put, and the app and the network on its loop go on (sampling, and a put after them)."""
    sparse = tmp_path / "sparse.bin"
    with sparse.open("wb"):
        pass
    os.truncate(sparse, 2 << 30)
    app = VaultnetApp(NetworkConfig(vaults=4))
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: network_up(app), "network up")
        await answer(pilot, "p", "/dev/zero")
        await answer(pilot, "p", str(sparse))
        await wait_until(pilot, lambda: sum("cannot" in t for t in texts) == 2,
                         "two refusals")
        zero = next(t for t in texts if "/dev/zero" in t)
        assert "character device" in zero and "not a regular file" in zero
        big = next(t for t in texts if str(sparse) in t)
        assert "cannot store" in big and str(MAX_CHUNK_SIZE) in big.replace(",", "")
        assert not app.model.chunks
        sampled = app._last_sample
        await wait_until(pilot, lambda: app._last_sample > sampled, "the next sample")
        await answer(pilot, "p", "2048")
        await wait_until(pilot, lambda: len(app.model.chunks) == 1, "a put after them")

    run_app(app, body)
    assert app.return_code in (None, 0)
