"""The churn soak: a network with data, random kill / add events one at a time, and after each one
the replication invariant (`vaultnet.runtime.invariants.replication`) checked by brute force. Used
by the tests (`tests/churn`) and by `vaultnet bench churn` (many seeds, timings, messages per
event)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from vaultnet.client.maid import ClientError, MaidClient
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet
from vaultnet.xor import Name

SETTLE = 120.0
PUTS_IN_FLIGHT = 16
"""Puts the scenario keeps going at once while it stores its chunks: one at a time, 500 puts
were a third of its time, most of it the network idling between them."""


@dataclass
class ChurnReport:
    """What a churn scenario observed per event: settle time, messages, chunks lost."""
    events: list[str] = field(default_factory=list)
    settle_times: list[float] = field(default_factory=list)  # trio-clock seconds per event
    messages: list[int] = field(default_factory=list)  # persona messages per event
    lost: list[Name] = field(default_factory=list)


async def churn_event(net: Testnet, rng: random.Random, minimum: int) -> str:
    """Kill a random vault or add one (never below `minimum` vaults)."""
    if len(net.vaults) > minimum and rng.random() < 0.5:
        victim = rng.choice(net.vaults)
        await net.kill_vault(victim.name)
        return f"kill {victim.name.hex()[:8]}"
    vault = await net.add_vault()
    return f"add {vault.name.hex()[:8]}"


async def run_churn(net: Testnet, chunks: int, events: int, seed: int, size: int = 1024,
                    on_event: Callable[[int, str], None] | None = None) -> ChurnReport:
    """Put `chunks` chunks, then `events` churn events, each settled and checked; finally get
    every chunk. Raises InvariantsViolated (a NotSettled naming the chunks short of a copy) if
    replication is not restored."""
    rng = random.Random(seed)
    client = await net.client()
    names = await _put_all(client, [rng.randbytes(size) for _ in range(chunks)])
    await net.wait_replicated(names, SETTLE, what="initial placement")
    report = ChurnReport()
    received = [0]

    def count(event: ev.Event) -> None:
        if isinstance(event, ev.MessageReceived):
            received[0] += 1

    net.bus.add_sink(count)
    minimum = max(net.params.group_size * 2, len(net.vaults) - 4)
    for i in range(events):
        before, start = received[0], trio.current_time()
        what = await churn_event(net, rng, minimum)
        await net.wait_converged()
        await net.wait_replicated(names, SETTLE, what=f"replication after event {i} ({what})")
        report.events.append(what)
        report.settle_times.append(trio.current_time() - start)
        report.messages.append(received[0] - before)
        if on_event is not None:
            on_event(i, what)
    net.bus.remove_sink(count)
    reader = await net.client()
    for name in names:
        try:
            await reader.get(name)
        except ClientError:
            report.lost.append(name)
    return report


async def _put_all(client: MaidClient, contents: list[bytes]) -> list[Name]:
    """Put every chunk, PUTS_IN_FLIGHT at a time; their names in the order of `contents`."""
    names: list[Name] = [b""] * len(contents)
    limit = trio.CapacityLimiter(PUTS_IN_FLIGHT)

    async def put(index: int) -> None:
        async with limit:
            names[index] = await client.put(contents[index])

    async with trio.open_nursery() as nursery:
        for index in range(len(contents)):
            nursery.start_soon(put, index)
    return names
