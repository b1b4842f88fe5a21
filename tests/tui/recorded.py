"""A seeded simulator run recorded the way the dashboard records it, and the live model's
state captured at several times on the way, to compare replays against."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import trio
import trio.testing

from tui.model import NetworkModel
from tui.recording import open_recording
from vaultnet.client.maid import PutFailure
from vaultnet.control.reading import read_network
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet

SEED = 7
CAPACITY = 30_000
VAULTS = 8


def state(model: NetworkModel) -> dict[str, Any]:
    """Everything the views draw from the model, as plain comparable data (a copy)."""
    return copy.deepcopy({
        "vaults": model.vaults,
        "chunks": {n: (c.size, c.trace, c.deleted, c.holders) for n, c in model.chunks.items()},
        "summary": dataclasses.asdict(model.summary),
        "events": [(r.seq, r.time, r.kind, r.vault, r.subject, r.trace, r.detail,
                    sorted(r.reporters)) for r in model.events.rows],
        "counts": (dict(model.events.counts), model.events.made, model.events.reports),
        "flow": (list(model.flow.lines), model.flow.total),
        "traces": {t: list(events) for t, events in model.traces.items()},
        "rank_history": {n: list(h) for n, h in model.rank_history.items()},
        "faults": model.faults,
        "versioned": {k: (i.label, i.trace, i.parents, i.root, i.tips, i.group, i.strays)
                      for k, i in model.versioned.items()},
        "messages": {t: dataclasses.asdict(m) for t, m in model.messages.items()},
        "identities": (model.identities, model.identity_state),
        "focus": (model.focus, model.xor_blocks, model.followed_trace),
    })


@dataclasses.dataclass
class Recorded:
    """The file, and (time, records written, state) at each capture."""

    path: Path
    captures: list[tuple[float, int, dict[str, Any]]]
    records: int


async def _run(path: Path, captures: list[tuple[float, int, dict[str, Any]]]) -> int:
    model = NetworkModel(CAPACITY)
    recorder = open_recording(path, trio.current_time)
    recorder.start(CAPACITY, 4)
    model.journal = recorder
    pending: list[ev.Event] = []
    net = Testnet(vaults=VAULTS, transport="sim", seed=SEED, capacity=CAPACITY)
    net.bus.add_sink(pending.append)

    async def tick(capture: bool = True) -> None:
        """What the dashboard's drain does: fold the events in, sample, (test) capture. At a
        capture every task is blocked first, so no more events come at this virtual time."""
        await trio.testing.wait_all_tasks_blocked()
        model.ingest(list(pending))
        pending.clear()
        model.observe(read_network(net, model.query()), trio.current_time())
        if capture:
            captures.append((trio.current_time(), recorder.records, state(model)))
        # The next records must come later than this capture on the virtual clock, so a
        # seek to its time holds exactly what was captured.
        await trio.sleep(0.001)

    try:
        async with net:
            client = await net.client()
            await tick()
            for i in range(4):
                trace = client.new_id()
                try:
                    name = await client.put(bytes([i + 1]) * 4_000, trace=trace)
                except PutFailure:
                    continue
                model.add_chunk(name, 4_000, trace)
                await tick()
            net.fault(net.vaults[5].name, "lie")
            await tick()
            await net.kill_vault(net.vaults[2].name)
            for _ in range(6):
                await trio.sleep(1)
                await tick(capture=False)
            await tick()
            first = next(iter(model.chunks))
            await client.delete(first)
            model.mark_deleted(first)
            await tick()
            for _ in range(3):
                await trio.sleep(1)
                await tick()
    finally:
        recorder.close()
    assert recorder.error is None
    return recorder.records


def record_run(path: Path) -> Recorded:
    """Run the scenario under the simulator's clock, recording to `path`."""
    captures: list[tuple[float, int, dict[str, Any]]] = []
    records = trio.run(_run, path, captures, clock=trio.testing.MockClock(autojump_threshold=0))
    return Recorded(path, captures, records)
