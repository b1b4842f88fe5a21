"""The churn soak: a network with data, random kill / add events one at a time, and after each
one the replication invariant checked by brute force. Used by the tests (`tests/churn`) and by
`vaultnet bench churn` (many seeds, timings, messages per event)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from vaultnet import events as ev
from vaultnet.client import ClientError
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.store import CopyKind, copy_name
from vaultnet.testnet import Testnet
from vaultnet.xor import Name

SETTLE = 120.0
CHECK_EVERY = 0.1
"""Seconds (simulated under autojump) between replication checks: checking after every event
costs more than the network itself at hundreds of chunks."""


def stored_index(net: Testnet) -> dict[Name, list[Name]]:
    """Copy name -> the live vaults storing it (sorted): one read of each vault's store, so a
    check over hundreds of chunks does not query every store once per copy."""
    index: dict[Name, list[Name]] = {}
    for vault in net.vaults:
        for copy, _, _ in vault.stored():
            index.setdefault(copy, []).append(vault.name)
    return {copy: sorted(holders) for copy, holders in index.items()}


def stored_by(net: Testnet, copy: Name) -> list[Name]:
    return stored_index(net).get(copy, [])


def copy_problems_by_kind(net: Testnet, chunk: Name,
                          index: dict[Name, list[Name]] | None = None) -> list[str]:
    """For each copy kind of `chunk` (P, B, S), what is wrong with it ("" if nothing): every
    member of the copy's true close group must hold the same DataManager record, naming exactly
    HOLDERS_PER_COPY live holders, and exactly those vaults must store the copy. `index` is a
    `stored_index` taken once for many calls."""
    index = stored_index(net) if index is None else index
    problems = []
    live = {v.name for v in net.vaults}
    for kind in CopyKind:
        copy = copy_name(chunk, kind)
        group = set(net.true_close_group(copy))
        records = [v.host.data_manager.records.get(copy) for v in net.vaults
                   if v.name in group and v.host is not None]
        named = sorted(records[0]["holders"]) if records[0] is not None else []
        if records[0] is None or any(r != records[0] for r in records):
            problems.append(f"{kind.name}: members disagree or lack the record")
        elif len(named) != HOLDERS_PER_COPY or not set(named) <= live:
            problems.append(f"{kind.name}: the record names {len(named)} live holders")
        elif index.get(copy, []) != named:
            problems.append(f"{kind.name}: stored by other vaults than the record names")
        else:
            problems.append("")
    return problems


def copy_problems(net: Testnet, chunk: Name,
                  index: dict[Name, list[Name]] | None = None) -> list[str]:
    return [problem for problem in copy_problems_by_kind(net, chunk, index) if problem]


def replication_ok(net: Testnet, chunks: list[Name]) -> bool:
    index = stored_index(net)
    return all(not copy_problems(net, chunk, index) for chunk in chunks)


def groups_agree(net: Testnet, store: str) -> bool:
    """Every member of each record's true close group holds the same value (by digest)."""
    holders: dict[bytes, set[bytes]] = {}
    for vault in net.vaults:
        assert vault.host is not None
        for persona_store in getattr(vault.host, store).transfer_stores():
            for key, _ in persona_store.items():
                holders.setdefault(persona_store.table.encode() + b":" + key, set())
    for tagged in holders:
        table, key = tagged.split(b":", 1)
        values = set()
        for vault in net.vaults:
            if vault.name in net.true_close_group(key[:64]):
                assert vault.host is not None
                stores = {s.table: s for s in getattr(vault.host, store).transfer_stores()}
                values.add(repr(stores[table.decode()].get(key)))
        if len(values) != 1:
            return False
    return True


@dataclass
class ChurnReport:
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
    every chunk. Raises NotSettled (with what is wrong) if replication is not restored."""
    rng = random.Random(seed)
    client = await net.client()
    names = [await client.put(rng.randbytes(size)) for _ in range(chunks)]
    await net.wait_for(lambda: replication_ok(net, names), SETTLE, "initial placement",
                       every=CHECK_EVERY)
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
        await net.wait_settled()
        await net.wait_for(lambda: replication_ok(net, names), SETTLE,
                           f"replication after event {i} ({what})", every=CHECK_EVERY)
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
