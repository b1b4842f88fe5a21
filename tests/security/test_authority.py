"""Attacks on group authority, relaying, replay and connection budgets, each carried out against
a real 8-vault TCP testnet (the replay window also on the simulator, under a MockClock): every
test asserts that the attack's effect did not happen."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
import trio

from tests.data.helpers import copies_placed, holders
from vaultnet import Testnet
from vaultnet import events as ev
from vaultnet.client import MaidClient, RequestExpired
from vaultnet.identity import Identity
from vaultnet.messages import ID_SIZE, Authority, Message, Persona, derived_id, network_time
from vaultnet.store import CopyKind, copy_name
from vaultnet.transport.base import Connection, ConnectionClosed
from vaultnet.transport.tcp import TcpEndpoint
from vaultnet.vault import MAX_CONNECTIONS_PER_PEER, Timing, Vault
from vaultnet.wire import FrameError
from vaultnet.xor import Name, closest

SETTLE = 30.0
"""Deadline, in seconds, for a condition a test waits on (a loaded machine is slow)."""
FRESH_KEYS = 24


def attacker_endpoint(identity: Identity, role: str) -> TcpEndpoint:
    """Where every attacker connection in this module comes from."""
    return TcpEndpoint(identity, role=role)


@asynccontextmanager
async def attacker_connection(vault: Vault, identity: Identity, role: str,
                              endpoint: TcpEndpoint | None = None) -> AsyncIterator[Connection]:
    """A handshaken connection from `identity` (as `role`) to `vault`, with its writer running
    and everything it receives read and thrown away; `closed` once the vault hangs up. Pass a
    listening `endpoint` to connect as a vault with a reachable address."""
    endpoint = endpoint or attacker_endpoint(identity, role)
    conn = await endpoint.connect(vault.address)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.run_writer)
        nursery.start_soon(_drain, conn)
        try:
            yield conn
        finally:
            nursery.cancel_scope.cancel()
            await conn.aclose()


async def _drain(conn: Connection) -> None:
    try:
        while True:
            await conn.receive()
    except (ConnectionClosed, FrameError):
        conn.close()


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail the test after SETTLE seconds."""
    with trio.fail_after(SETTLE):
        while not condition():
            await trio.sleep(0.05)


def recorder(net: Testnet) -> list[ev.Event]:
    seen: list[ev.Event] = []
    net.bus.add_sink(seen.append)
    return seen


async def stored_chunk(net: Testnet) -> tuple[MaidClient, bytes, Name]:
    """A client and a chunk it put (content, name), once every copy is on its holders."""
    client = await net.client()
    data = random.Random(5).randbytes(4096)
    name = await client.put(data)
    await net.wait_for(lambda: copies_placed(net, name), SETTLE, "copies placed")
    return client, data, name


def forged_deletes(net: Testnet, signers: list[Identity], name: Name,
                   rng: random.Random) -> list[Message]:
    """For every holder of every copy of chunk `name`: a PmidManager-group `delete` of that
    copy to the PmidNode, once signed by each of `signers` (one message id per copy and
    holder, so that the signers' copies would accumulate)."""
    forged = []
    for kind in CopyKind:
        copy = copy_name(name, kind)
        for holder in holders(net, copy):
            msg_id = rng.randbytes(ID_SIZE)
            forged.extend(
                Message(src=Authority(holder, Persona.PMID_MANAGER, group=True),
                        dst=Authority(holder, Persona.PMID_NODE), action="delete",
                        msg_id=msg_id, trace_id=bytes(ID_SIZE), body={"copy": copy},
                        sender=signer.name).signed(signer.sign, signer.verify_key)
                for signer in signers)
    return forged


def still_stored(net: Testnet, name: Name) -> bool:
    return all(holders(net, copy_name(name, kind)) for kind in CopyKind) and copies_placed(
        net, name)


def in_group(net: Testnet, name: Name, group: Name) -> bool:
    """Whether a vault called `name` would be in `group`'s close group on this testnet."""
    names = [n for n in {v.name for v in net.vaults} | {name} if n != group]
    return name in closest(group, names, net.params.group_size)


async def test_group_delete_from_fresh_keys_over_a_client_connection() -> None:
    rng = random.Random(11)
    async with Testnet(vaults=8, transport="tcp") as net:
        client, data, name = await stored_chunk(net)
        keys = [Identity.generate(rng.randbytes(32)) for _ in range(FRESH_KEYS)]
        forged = forged_deletes(net, keys, name, rng)
        attacker = Identity.generate(rng.randbytes(32))
        for entry in net.vaults:
            await _send_and_wait_closed(entry, attacker, "client", forged)
        assert still_stored(net, name)
        assert await client.get(name) == data


async def _send_and_wait_closed(vault: Vault, identity: Identity, role: str,
                                messages: list[Message]) -> None:
    async with attacker_connection(vault, identity, role) as conn:
        for msg in messages:
            conn.send({"t": "msg", "m": msg.to_wire()})
        await wait_until(lambda: conn.closed, "the vault closes the attacker's link")


@asynccontextmanager
async def attacker_vault(identity: Identity) -> AsyncIterator[TcpEndpoint]:
    """`identity` listening as a vault that answers pings and ignores everything else, so
    honest vaults keep it in their routing tables."""
    endpoint = attacker_endpoint(identity, "vault")

    async def serve(conn: Connection) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.run_writer)
            try:
                while True:
                    if (await conn.receive()).get("t") == "ping":
                        conn.send({"t": "pong"})
            except (ConnectionClosed, FrameError):
                nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        await endpoint.listen(nursery, serve)
        try:
            yield endpoint
        finally:
            nursery.cancel_scope.cancel()
            await endpoint.aclose()


async def test_group_delete_over_a_vault_connection_from_outside_the_group() -> None:
    rng = random.Random(12)
    async with Testnet(vaults=8, transport="tcp") as net:
        client, data, name = await stored_chunk(net)
        outsider = Identity.generate(rng.randbytes(32))
        events = recorder(net)
        async with attacker_vault(outsider) as endpoint:
            async with attacker_connection(net.vaults[0], outsider, "vault", endpoint) as conn:
                fresh = [Identity.generate(rng.randbytes(32)) for _ in range(FRESH_KEYS)]
                forged = forged_deletes(net, [outsider, *fresh], name, rng)
                await wait_until(lambda: all(outsider.name in net.vault(m.dst.name).routing
                                             for m in forged),
                                 "every holder knows the outsider as a vault")
                # Where the outsider would be a member, its one vote is not a quorum.
                refused = [m for m in forged if m.sender != outsider.name
                           or not in_group(net, outsider.name, m.dst.name)]
                assert any(m.sender == outsider.name for m in refused)
                for msg in forged:
                    conn.send({"t": "msg", "m": msg.to_wire()})
                await wait_until(lambda: len(_refusals(events, refused)) == len(refused),
                                 "every forged delete refused at its holder")
                assert not conn.closed
        assert still_stored(net, name)
        assert await client.get(name) == data


def _refusals(events: list[ev.Event], forged: list[Message]) -> list[ev.MessageDropped]:
    """Refusals of the forged messages at their destination (one per forged message)."""
    wanted = {(m.msg_id, m.dst.name) for m in forged}
    return [e for e in events
            if isinstance(e, ev.MessageDropped) and (e.msg_id, e.vault) in wanted]
