"""A model filled from a seeded simulator run: the same screen every time, for snapshots."""

from __future__ import annotations

import trio
import trio.testing

from tui.model import NetworkModel
from vaultnet import events as ev
from vaultnet.client import PutFailure
from vaultnet.testnet import Testnet

SEED = 7
CAPACITY = 30_000


async def _fill(model: NetworkModel) -> None:
    events: list[ev.Event] = []
    net = Testnet(vaults=8, transport="sim", seed=SEED, capacity=CAPACITY)
    net.bus.add_sink(events.append)
    async with net:
        client = await net.client()
        net.fault(net.vaults[5].name, "lie")
        for i in range(8):
            trace = client.new_id()
            try:
                name = await client.put(bytes([i]) * 5_000, trace=trace)
            except PutFailure:
                continue
            model.add_chunk(name, 5_000, trace)
            model.ingest(events)
            events.clear()
            model.observe(net, trio.current_time())
        await net.kill_vault(net.vaults[2].name)
        await trio.sleep(10)
        model.ingest(events)
        model.observe(net, trio.current_time())
        model.focus = next(iter(model.chunks))
        model.followed_trace = model.chunks[model.focus].trace
        model.observe(net, trio.current_time() + 1)


def frozen_model() -> NetworkModel:
    model = NetworkModel(CAPACITY)
    trio.run(_fill, model, clock=trio.testing.MockClock(autojump_threshold=0))
    return model
