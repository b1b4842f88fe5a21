"""Regenerate screenshots/: every main view of the dashboard on a live 16-vault TCP testnet.

    .venv/bin/pip install -e '.[screenshots]' && .venv/bin/python scripts/screenshots.py

Drives the real app with Textual's Pilot: puts chunks (one vault lying, capacity small enough
for sacrificial evictions), deletes one, kills a vault, then exports each view as SVG and PNG.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import cairosvg
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import VaultnetApp
from tui.network import NetworkConfig

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (140, 44)
VIEWS = (("vaults", ["1"]), ("vault-detail", ["1", "down", "down"]), ("chunks-xor", ["2"]),
         ("flows", ["3"]), ("evictions", ["4"]), ("ranking", ["5"]), ("help", ["question_mark"]))


async def until(pilot: Pilot[Any], condition: Any, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise SystemExit(f"screenshots: gave up waiting after {seconds}s")


async def ask(pilot: Pilot[Any], key: str, text: str) -> None:
    await pilot.press(key)
    await pilot.pause()
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


async def shoot() -> None:
    OUT.mkdir(exist_ok=True)
    app = VaultnetApp(NetworkConfig(vaults=16, capacity=30_000, seed=3))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.network is not None and app.network.ready)
        assert app.network is not None
        net = app.network.net
        net.fault(net.vaults[4].name, "lie")
        for _ in range(10):
            count = len(app.model.chunks)
            await ask(pilot, "p", "7000")
            await until(pilot, lambda c=count: len(app.model.chunks) > c
                        or app.model.summary.evictions)
            await pilot.pause(0.3)
        await pilot.press("2", "down", "d")
        await pilot.pause(1.0)
        await pilot.press("1", "k")
        await pilot.pause(6.0)  # liveness timeout: churn and re-replication happen
        await pilot.press("2", "up", "t")
        await pilot.pause(1.5)
        for name, keys in VIEWS:
            await pilot.press(*keys)
            await pilot.pause(0.5)
            svg = app.export_screenshot(title=f"vaultnet tui: {name}")
            (OUT / f"{name}.svg").write_text(svg)
            cairosvg.svg2png(bytestring=svg.encode(), write_to=str(OUT / f"{name}.png"),
                             output_width=1400)
            if name == "help":
                await pilot.press("escape")
            print(f"screenshots/{name}.svg, .png")


if __name__ == "__main__":
    asyncio.run(shoot())
    sys.exit(0)
