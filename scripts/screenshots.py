"""Regenerate screenshots/: every main view of the dashboard on a live 16-vault TCP testnet, at
160x48 (a few again at 80x24: NAME-80x24), and the scenario tour (`vaultnet tui --tour`).

    .venv/bin/pip install -e '.[screenshots]' && .venv/bin/python scripts/screenshots.py

Drives the real app with Textual's Pilot: puts chunks (one vault lying, capacity small enough
for sacrificial evictions), deletes one, kills a vault, then exports each view as SVG and PNG;
then puts version trees (one with a fork), sends alice's messages to bob (one while bob is
offline: held) and exports view 6 and the flow of a message. The run is recorded (as
`vaultnet tui --record` does) and its replay, half way through, is shot too. Last, the scenario
tour runs on a simulated network of its own settings and two of its scenes are shot.

    .venv/bin/python scripts/screenshots.py --replay FILE

exports only the replay screenshot, of the recording FILE.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import cairosvg
import trio
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import VaultnetApp
from tui.network import NetworkConfig
from tui.recording import open_recording
from tui.replay_app import RecordingApp, ReplayApp, open_replay
from tui.scenario import TOUR_CAPACITY, TOUR_VAULTS, ScenarioPanel
from tui.widgets.version_table import VersionTable, version_row

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (160, 48)
SMALL = (80, 24)
VIEWS = (("vaults", ["1"]), ("vault-detail", ["1", "down", "down"]), ("chunks-xor", ["2"]),
         ("flows", ["3"]), ("evictions", ["4"]), ("ranking", ["5"]), ("help", ["question_mark"]))


async def until(pilot: Pilot[Any], condition: Any, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    said = "; ".join(n.message for n in pilot.app._notifications)
    raise SystemExit(f"screenshots: gave up waiting after {seconds}s (notifications: {said})")


async def ask(pilot: Pilot[Any], key: str, text: str) -> None:
    await pilot.press(key)
    await pilot.pause()
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


MONOSPACE = '"DejaVu Sans Mono", monospace'
"""The PNGs' font. Textual's SVG asks for Fira Code (a web font, fetched by a browser); CairoSVG
cannot fetch it and, where Fira Code is not installed, fontconfig gives it a proportional font:
columns drift and text overlaps. DejaVu Sans Mono is on every Debian with fontconfig."""


def png_svg(svg: str) -> str:
    """The SVG with its terminal font replaced by MONOSPACE, for CairoSVG."""
    return svg.replace('font-family: "Fira Code"', f"font-family: {MONOSPACE}").replace(
        "font-family: Fira Code, monospace", f"font-family: {MONOSPACE}")


def export(app: VaultnetApp, name: str) -> None:
    """Save the screen as screenshots/NAME.svg and .png."""
    svg = app.export_screenshot(title=f"vaultnet tui: {name}")
    (OUT / f"{name}.svg").write_text(svg)
    cairosvg.svg2png(bytestring=png_svg(svg).encode(), write_to=str(OUT / f"{name}.png"),
                     output_width=1400)
    print(f"screenshots/{name}.svg, .png")


async def export_small(pilot: Pilot[Any], name: str) -> None:
    """Save the screen at SMALL as screenshots/NAME-80x24.svg and .png, then resize back."""
    await pilot.resize_terminal(*SMALL)
    await pilot.pause(0.5)
    export(pilot.app, f"{name}-{SMALL[0]}x{SMALL[1]}")
    await pilot.resize_terminal(*SIZE)
    await pilot.pause(0.5)


async def versions_and_messages(pilot: Pilot[Any], app: VaultnetApp) -> None:
    """Two trees (one forked at v1), a delivered message and one held for an offline bob."""
    model = app.model
    await pilot.press("6")
    for label, text in (("todo", "milk"), ("notes", "first draft")):
        await ask(pilot, "n", f"{label} {text}")
        await until(pilot, lambda lb=label: any(i.label == lb and i.parents
                                                for i in model.versioned.values()))
    notes = next(i for i in model.versioned.values() if i.label == "notes")
    for text in ("second draft", "third draft"):
        count = len(notes.parents)
        await ask(pilot, "v", text)
        await until(pilot, lambda c=count: len(notes.parents) > c)
    table = app.query_one(VersionTable)
    v1 = next(v for v in notes.parents if v.index == 1)
    rows = [str(k.value) for k in table.rows]
    table.move_cursor(row=rows.index(version_row(notes.key, v1).hex()))  # a fork under v1
    await ask(pilot, "v", "third draft, the other way")
    await until(pilot, lambda: len(notes.tips) == 2 and notes.agreeing == len(notes.group))
    await until(pilot, lambda: list(model.identity_state.values()) == ["online", "online"])
    await ask(pilot, "m", "alice bob hello bob")
    await until(pilot, lambda: any(m.state == "delivered" for m in model.messages.values()))
    hello = next(iter(model.messages.values()))
    await ask(pilot, "o", "bob")
    await until(pilot, lambda: "offline" in model.identity_state.values())
    await ask(pilot, "m", "alice bob are you there?")
    await until(pilot, lambda: any(len(m.held_by) == 4 for m in model.messages.values()))
    table.move_cursor(row=0)
    await pilot.pause(1.0)
    export(app, "versions")
    model.followed_trace = hello.trace
    await pilot.press("3")
    await pilot.pause(0.5)
    export(app, "flows-message")


async def replay(path: Path) -> None:
    """The recording at `path` replayed, paused half way, on view 4."""
    app = ReplayApp(open_replay(path), path)
    async with app.run_test(size=SIZE) as pilot:
        r = app.replay
        await ask(pilot, "colon", f"{(r.end - r.start) / 2:.2f}")
        await pilot.press("4")
        await pilot.pause(0.5)
        export(app, "replay")
        await export_small(pilot, "replay")


async def shoot(recording: Path) -> None:
    OUT.mkdir(exist_ok=True)
    app = RecordingApp(NetworkConfig(vaults=16, capacity=30_000, seed=3),
                       open_recording(recording, trio.current_time))
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
        await pilot.press("2", "down")
        await ask(pilot, "D", "y")
        await pilot.pause(1.0)
        await pilot.press("1")
        await ask(pilot, "K", "y")
        await pilot.pause(6.0)  # liveness timeout: churn and re-replication happen
        await pilot.press("2", "up", "t")
        await pilot.pause(1.5)
        for name, keys in VIEWS:
            await pilot.press(*keys)
            await pilot.pause(0.5)
            export(app, name)
            if name in ("vaults", "evictions"):
                await export_small(pilot, name)
            if name == "help":
                await pilot.press("escape")
        await versions_and_messages(pilot, app)


async def tour() -> None:
    """The scenario tour on its own network: its put scene (view 3) and its liar scene."""
    app = VaultnetApp(NetworkConfig(vaults=TOUR_VAULTS, transport="sim", seed=5,
                                    capacity=TOUR_CAPACITY))
    app.scenario = True
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.network is not None and app.network.ready
                    and app.query(ScenarioPanel))
        panel = app.query_one(ScenarioPanel)
        for scene, name in ((1, "tour-put"), (2, None), (3, None), (4, "tour-liar")):
            await pilot.press("enter")
            await until(pilot, lambda n=scene: n in panel.results, 300)
            await pilot.pause(1.5)
            if name is not None:
                export(app, name)
                await export_small(pilot, name)


async def main(argv: list[str]) -> None:
    if argv[:1] == ["--replay"] and len(argv) == 2:
        await replay(Path(argv[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "screenshots.trace"
        await shoot(recording)
        await replay(recording)
    await tour()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
    sys.exit(0)
