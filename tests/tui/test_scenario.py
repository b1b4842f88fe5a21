"""The scenario tour (`vaultnet tui --tour`) run end to end on a simulated network, headless:
each scene acts on the network and waits for enter, and each scene's effect is checked on the
network as the dashboard samples it, not on the tour's own word."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from tests.tui.helpers import run_app, wait_until
from tui.app import VaultnetApp
from tui.network import NetworkConfig
from tui.scenario import SCENES, TOUR_CAPACITY, TOUR_VAULTS, ScenarioPanel
from tui.tour import TARGET
from vaultnet.personas.data_manager import HOLDERS_PER_COPY

SCENE_DEADLINE = 300.0


def test_the_tour_acts_on_the_network_step_by_step() -> None:
    app = VaultnetApp(NetworkConfig(vaults=TOUR_VAULTS, transport="sim", seed=7,
                                    capacity=TOUR_CAPACITY))
    app.scenario = True

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.query(ScenarioPanel), "the tour's panel")
        tour = app.query_one(ScenarioPanel)
        assert tour.has_class("side")  # 140 columns: beside the views
        await pilot.press("enter")  # the network is not up yet: the tour stays
        assert tour.index == 0 or (app.network is not None and app.network.ready)
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        stage = tour.stage
        held = 0
        for number, scene in enumerate(SCENES):
            if number:
                await pilot.press("enter")
            await wait_until(pilot, lambda n=number: tour.index == n, f"scene {number}")
            assert app.query_one(TabbedContent).active == f"{scene.tab}-pane"
            assert [w for w in app.query(f".{TARGET}")] == [app.query_one(scene.target)]
            if scene.act is None:
                continue
            if tour.running == number:  # at work: enter waits, the scene stays
                tour.go(1)
                assert tour.index == number
                held += 1
            await wait_until(pilot, lambda n=number: n in tour.results,
                             f"scene {scene.title!r} done", SCENE_DEADLINE)
            result = tour.results[number]
            assert result.startswith("[b green]✓"), result
            assert Content.from_markup(result).plain in str(tour.render())

        assert held  # a long scene was still at work when enter was tried
        chunk = app.model.chunks[stage.chunk] if stage.chunk else None
        assert chunk is not None and app.model.followed_trace == chunk.trace
        assert any(step.dst_lane[0] == "PmidNode" for step in app.model.flow_steps(chunk.trace))
        assert stage.evicted > 0
        assert any(row.kind == "eviction" for row in app.model.events.rows)
        assert stage.liar is not None
        rank = app.model.vaults[stage.liar].rank
        assert rank is not None and rank < stage.liar_rank
        assert any(row.kind == "integrity" and row.vault == stage.liar
                   for row in app.model.events.rows)
        assert stage.victim is not None and stage.victim_copies
        assert app.model.vaults[stage.victim].state == "down"
        for name, kind in stage.victim_copies:
            held = app.model.chunks[name].holders[kind]
            assert stage.victim not in held and len(held) >= HOLDERS_PER_COPY, (name, kind)
        assert set(chunk.holders) >= {"P", "B", "S"}

        await pilot.press("enter")  # past the last scene: the tour ends
        await wait_until(pilot, lambda: not app.query(ScenarioPanel), "the tour gone")

    run_app(app, body)
    assert app.return_code in (None, 0)
