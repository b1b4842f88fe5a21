"""The guided tour (T), driven end to end on the frozen model: each step shows its view, outlines
its widget and says what to look at; enter / → go on, ← goes back, escape leaves; leaving (or
going past the last step) shows the view the tour started from, with no outline left."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent

from tests.tui.frozen import frozen_model
from tests.tui.helpers import burst, wait_until
from tui.app import TABS, VaultnetApp
from tui.model import NetworkModel
from tui.screens.ask import AskScreen
from tui.tour import STEPS, TARGET, TourPanel


@pytest.fixture(scope="module")
def model() -> NetworkModel:
    return frozen_model()


def run(app: VaultnetApp, body: Any, size: tuple[int, int] = (120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


def shown(app: VaultnetApp) -> str:
    return app.query_one(TabbedContent).active.removesuffix("-pane")


def outlined(app: VaultnetApp) -> list[Any]:
    return list(app.query(f".{TARGET}"))


def test_every_step_shows_its_view_and_text_then_the_tour_ends_where_it_began(
        model: NetworkModel) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        assert shown(app) == "flows"
        await pilot.press("T")
        await pilot.pause()
        for number, step in enumerate(STEPS, start=1):
            tour = app.query_one(TourPanel)
            text = str(tour.render())
            assert step.tab in TABS
            assert shown(app) == step.tab, step.title
            assert step.title in text
            assert tour.border_title == f"tour {number}/{len(STEPS)}"
            assert outlined(app) == [app.query_one(step.target)], step.title
            assert ("ends the tour" in str(tour.border_subtitle)) == (number == len(STEPS))
            await pilot.press("enter" if number % 2 else "right")
            await pilot.pause()
        assert not app.query(TourPanel)
        assert shown(app) == "flows"
        assert outlined(app) == []

    run(app, body)


def test_the_steps_name_what_to_look_at_and_the_keys_that_act() -> None:
    text = " ".join(f"{step.title} {step.text}" for step in STEPS).lower()
    for what in ("close group", "message flows", "sacrificial", "ranking"):
        assert what in text, what
    for key, action in (("p", "puts"), ("g", "gets"), ("d", "deletes"), ("k", "kills"),
                        ("a", "adds"), ("f", "injects a fault")):
        assert f"[b]{key}[/] {action}" in text, action


def test_escape_leaves_mid_tour_and_left_goes_back(model: NetworkModel) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("2", "T")
        await pilot.pause()
        assert shown(app) == STEPS[0].tab
        await pilot.press("left")  # at the first step: stays
        assert app.query_one(TourPanel).index == 0
        await pilot.press("right", "right", "right", "left")
        await pilot.pause()
        assert app.query_one(TourPanel).index == 2
        assert shown(app) == STEPS[2].tab
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query(TourPanel)
        assert shown(app) == "chunks"
        assert outlined(app) == []
        await pilot.press("right")  # the tour's keys are off again: no error, no tour
        assert not app.query(TourPanel)

    run(app, body)


def test_keys_still_work_during_the_tour_and_a_prompt_keeps_its_escape(
        model: NetworkModel) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("T", "right", "right", "right", "right")  # the flows step
        await pilot.pause()
        assert shown(app) == "flows"
        await pilot.press("slash")
        assert isinstance(app.screen, AskScreen)
        await pilot.press("escape")  # cancels the prompt, not the tour
        await pilot.pause()
        assert not isinstance(app.screen, AskScreen)
        assert app.query_one(TourPanel).index == 4
        await pilot.press("T")  # again: from the first step
        await pilot.pause()
        assert app.query_one(TourPanel).index == 0
        assert shown(app) == STEPS[0].tab

    run(app, body)


def test_a_tour_typed_ahead_ends_on_the_view_it_began_from(model: NetworkModel) -> None:
    """T, → → ←, escape all queued at once (before the tour's panel has even mounted): the
    tour ends where it began, and its first step, shown late, does not move the view."""
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        burst(app, ["4", "c", "c", "T", "right", "right", "left", "escape"])
        await wait_until(pilot, lambda: shown(app) == "evictions" and not app.query(TourPanel),
                         lambda: f"back on evictions; on {shown(app)}")
        await pilot.pause(0.3)
        assert shown(app) == "evictions"
        assert outlined(app) == []

    run(app, body)


def test_on_a_tiny_terminal_the_tour_still_says_how_to_go_on_and_leave(
        model: NetworkModel) -> None:
    """40x12: the panel takes at most half the screen, and its keys are on its border."""
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("T")
        await pilot.pause()
        tour = app.query_one(TourPanel)
        assert tour.region.height <= 6
        assert "escape leaves" in str(tour.border_subtitle)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query(TourPanel)

    run(app, body, size=(40, 12))
