"""Per-message events (a message received, sent, a persona's note) are built only while someone
observes the bus: a headless testnet does not pay for events nobody reads, and an observer
that comes sees every one from then on."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet


def test_the_bus_is_observed_while_a_sink_or_subscription_is_attached() -> None:
    bus = ev.EventBus()
    assert not bus.observed
    sink = print
    bus.add_sink(sink)
    assert bus.observed
    bus.remove_sink(sink)
    assert not bus.observed
    sub = bus.subscribe()
    assert bus.observed
    sub.close()
    assert not bus.observed


def test_a_put_builds_its_message_events_only_while_observed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def counting(cls: type[ev.Event]) -> Any:
        def build(*args: Any) -> ev.Event:
            built.append(cls.__name__)
            return cls(*args)
        return build

    for cls in (ev.MessageReceived, ev.MessageSent, ev.PersonaEvent):
        monkeypatch.setattr(ev, cls.__name__, counting(cls))

    async def scenario() -> tuple[list[str], list[str]]:
        async with Testnet(vaults=8, transport="sim", seed=5) as net:
            client = await net.client()
            built.clear()
            await client.put(b"not observed" * 10)
            unobserved = list(built)
            seen: list[str] = []
            net.bus.add_sink(lambda e: seen.append(type(e).__name__))
            await client.put(b"observed" * 10)
            return unobserved, seen

    unobserved, seen = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    assert unobserved == []
    assert {"MessageReceived", "MessageSent", "PersonaEvent"} <= set(seen)
