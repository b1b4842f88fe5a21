"""A model filled from a seeded simulator run: the same screen every time, for snapshots."""

from __future__ import annotations

import trio
import trio.testing

from tui.model import NetworkModel
from tui.structured import structured_rows
from vaultnet.client.maid import PutFailure
from vaultnet.client.mpid import MessagingError, MpidClient
from vaultnet.control.reading import read_network
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet
from vaultnet.xor import name_of

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
            model.observe(read_network(net, model.query()), trio.current_time())
        await net.kill_vault(net.vaults[2].name)
        await trio.sleep(10)
        model.ingest(events)
        model.observe(read_network(net, model.query()), trio.current_time())
        model.focus = next(iter(model.chunks))
        model.followed_trace = model.chunks[model.focus].trace
        model.observe(read_network(net, model.query()), trio.current_time() + 1)


def frozen_model() -> NetworkModel:
    model = NetworkModel(CAPACITY)
    trio.run(_fill, model, clock=trio.testing.MockClock(autojump_threshold=0))
    return model


async def _fill_versions(model: NetworkModel) -> None:
    """Two version trees (a fork, a deleted branch), three messages between alice and bob:
    delivered, refused (alice blocked bob), held (bob offline), and two structured data
    records (one the dashboard client's)."""
    events: list[ev.Event] = []
    net = Testnet(vaults=8, transport="sim", seed=SEED, capacity=CAPACITY)
    net.bus.add_sink(events.append)
    async with net:
        client = await net.client()
        alice, bob = await net.mpid_client(), await net.mpid_client()
        model.add_identity(alice.name, "alice", "online")
        model.add_identity(bob.name, "bob", "online")

        async def put(key: bytes, label: str, parent: VersionName | None,
                      text: bytes) -> VersionName:
            chunk = await client.put(text)
            version = VersionName(0 if parent is None else parent.index + 1, chunk)
            trace = client.new_id()
            await client.put_version(key, parent, version, trace=trace)
            model.track_versioned(key, label).trace = trace
            model.add_chunk(chunk, len(text), trace, follow=False)
            return version

        notes, todo = name_of(b"notes"), name_of(b"todo")
        v0 = await put(notes, "notes", None, b"notes: first draft")
        v1 = await put(notes, "notes", v0, b"notes: second draft")
        await put(notes, "notes", v1, b"notes: third draft")
        await put(notes, "notes", v1, b"notes: third draft, the other way")  # a fork
        side = await put(notes, "notes", v0, b"notes: a side idea")
        for version in await client.delete_branch(notes, side, trace=client.new_id()):
            model.mark_deleted(version.id)
        t0 = await put(todo, "todo", None, b"todo: milk")
        await put(todo, "todo", t0, b"todo: milk, bread")

        async def send(sender: MpidClient, recipient: MpidClient, text: bytes) -> bytes:
            trace = client.new_id()
            model.add_message(trace, sender.name, recipient.name, text.decode())
            try:
                await sender.send(recipient.name, text, trace=trace)
            except MessagingError as exc:
                model.message_failed(trace, str(exc))
            return trace

        delivered = await send(alice, bob, b"hello bob")
        got = await bob.receive()
        await alice.block(bob.name)
        await send(bob, alice, b"let me in")
        await bob.aclose()
        model.add_identity(bob.name, "bob", "offline")
        await send(alice, bob, b"are you there?")
        await trio.sleep(5)
        model.ingest(events)
        model.message_received(bob.name, got.sender, got.mid)
        # structured data: the dashboard client's record at v1, another client's at v0 (their
        # events are not ingested: the other snapshots of this model stay as they were)
        profile = name_of(b"profile")
        await client.put_structured(profile, b"status: here")
        await client.update_structured(profile, b"status: away until monday")
        await (await net.client()).put_structured(name_of(b"board"), b"someone else's")
        await trio.sleep(5)
        reading = read_network(net, model.query())
        model.observe(reading, trio.current_time(),
                      structured_rows(reading, client.identity.verify_key))
        model.followed_trace = delivered


def frozen_versions_model() -> NetworkModel:
    """Version trees and messages, from their own seeded run."""
    model = NetworkModel(CAPACITY)
    trio.run(_fill_versions, model, clock=trio.testing.MockClock(autojump_threshold=0))
    return model
