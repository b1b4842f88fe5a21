"""Attacks on group authority, relaying, replay and connection budgets, each carried out against
a real 8-vault TCP testnet (the replay window also on the simulator, under a MockClock): every
test asserts that the attack's effect did not happen."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
import trio

from tests.data.helpers import copies_placed, holders, nothing_stored
from vaultnet import Testnet
from vaultnet.client.maid import MaidClient, RequestExpired
from vaultnet.group.firewall import CLOCK_SKEW, REQUEST_WINDOW
from vaultnet.identity import Identity
from vaultnet.messages import ID_SIZE, Authority, Message, Persona, derived_id
from vaultnet.personas.bodies import NameBody
from vaultnet.routing import Parameters
from vaultnet.runtime import events as ev
from vaultnet.runtime import links
from vaultnet.runtime.core import Timing
from vaultnet.runtime.links import MAX_CONNECTIONS_PER_PEER
from vaultnet.runtime.peer_protocol import NEIGHBOUR_PEERS, NEIGHBOUR_UNPROVEN
from vaultnet.runtime.vault import Vault
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.transport.base import Connection, ConnectionClosed
from vaultnet.transport.clock import network_time
from vaultnet.transport.tcp import MAX_CONNECTIONS as TCP_MAX_CONNECTIONS
from vaultnet.transport.tcp import TcpEndpoint
from vaultnet.wire import FrameError
from vaultnet.xor import Name, closest

SETTLE = 30.0
"""Deadline, in seconds, for a condition a test waits on (a loaded machine is slow)."""
FRESH_KEYS = 24


def attacker_endpoint(identity: Identity, role: str, network_key: bytes | None) -> TcpEndpoint:
    """Where every attacker connection in this module comes from. An attacker speaking as a
    vault holds the network key: it is an admitted vault outside the group it claims, the
    strongest attacker short of a colluding group majority."""
    return TcpEndpoint(identity, role=role, network_key=network_key if role == "vault" else None)


@asynccontextmanager
async def attacker_connection(vault: Vault, identity: Identity, role: str,
                              endpoint: TcpEndpoint | None = None,
                              received: list[dict[str, Any]] | None = None,
                              ) -> AsyncIterator[Connection]:
    """A handshaken connection from `identity` (as `role`) to `vault`, with its writer running
    and what it receives appended to `received` (if given); `closed` once the vault hangs up.
    Pass a listening `endpoint` to connect as a vault with a reachable address."""
    endpoint = endpoint or attacker_endpoint(identity, role, vault.endpoint.network_key)
    conn = await endpoint.connect(vault.address)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.run_writer)
        nursery.start_soon(_drain, conn, received if received is not None else [])
        try:
            yield conn
        finally:
            nursery.cancel_scope.cancel()
            await conn.aclose()


async def _drain(conn: Connection, received: list[dict[str, Any]]) -> None:
    try:
        while True:
            received.append(await conn.receive())
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
async def attacker_vault(identity: Identity, network_key: bytes) -> AsyncIterator[TcpEndpoint]:
    """`identity` listening as a vault that answers pings and ignores everything else, so
    honest vaults keep it in their routing tables."""
    endpoint = attacker_endpoint(identity, "vault", network_key)

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
        async with (attacker_vault(outsider, net.network_key) as endpoint,
                    attacker_connection(net.vaults[0], outsider, "vault", endpoint) as conn):
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


def probe_to_group(net: Testnet, forwarder: Vault, signer: Identity,
                   rng: random.Random) -> Message:
    """A signed Routing probe to a group `forwarder` is not in (so it must forward it)."""
    while True:
        target = rng.randbytes(64)
        if forwarder.name not in net.true_close_group(target):
            break
    return Message(src=Authority(signer.name, Persona.ROUTING),
                   dst=Authority(target, Persona.ROUTING, group=True), action="probe",
                   msg_id=rng.randbytes(ID_SIZE), trace_id=rng.randbytes(ID_SIZE), body={},
                   sender=signer.name).signed(signer.sign, signer.verify_key)


async def test_unsigned_and_altered_messages_cost_only_the_link_they_came_on() -> None:
    rng = random.Random(13)
    async with Testnet(vaults=8, transport="tcp") as net:
        events = recorder(net)
        forwarder = net.vaults[0]
        attacker, other = (Identity.generate(rng.randbytes(32)) for _ in range(2))
        good = probe_to_group(net, forwarder, other, rng)
        altered = replace(probe_to_group(net, forwarder, other, rng), body={"forged": True})
        unsigned = replace(probe_to_group(net, forwarder, attacker, rng), signature=b"",
                           sender_key=b"")

        def received(msg: Message) -> list[ev.Event]:
            return [e for e in events
                    if isinstance(e, ev.MessageReceived) and e.msg_id == msg.msg_id]

        async with attacker_connection(forwarder, attacker, "vault") as conn:
            conn.send({"t": "msg", "m": good.to_wire()})
            await wait_until(lambda: len(received(good)) == net.params.group_size,
                             "a signed relayed probe reaches its group")
            conn.send({"t": "msg", "m": altered.to_wire()})
            await wait_until(lambda: any(isinstance(e, ev.MessageDropped)
                                         and e.msg_id == altered.msg_id for e in events),
                             "the forwarder drops the altered message")
            assert not conn.closed
            conn.send({"t": "msg", "m": unsigned.to_wire()})
            await wait_until(lambda: conn.closed, "the forwarder closes the attacker's link")
        assert received(altered) == [] and received(unsigned) == []
        assert not [e for e in events if isinstance(e, ev.PeerLost) and e.peer == forwarder.name]
        assert all(forwarder.name in v.routing for v in net.vaults if v is not forwarder)


def delete_request(client: MaidClient, name: Name, sent_at: float | None = None) -> Message:
    """The `delete` a client sends for `name`, signed with its key (dated `sent_at`)."""
    msg = client._message(Authority(client.name, Persona.MAID_MANAGER, group=True), "delete",
                          NameBody(name), client.new_id(), client.new_id())
    if sent_at is None:
        return msg
    return replace(msg, sent_at=sent_at).signed(client.identity.sign, client.identity.verify_key)


async def send_delete(client: MaidClient, msg: Message) -> Message | None:
    """Send a delete request through the client and wait for its managers' answer."""
    answers = [derived_id("delete_ok", msg.msg_id), derived_id("delete_failure", msg.msg_id)]
    return await client._request(msg, answers, client.params.accumulation_quorum)


async def test_delete_replayed_after_the_window_is_refused(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=21) as net:
        client = await net.client()
        data = random.Random(6).randbytes(4096)
        name = await client.put(data)
        captured = delete_request(client, name)
        answer = await send_delete(client, captured)
        assert answer is not None and answer.action == "delete_ok"
        await net.wait_for(lambda: nothing_stored(net, name), SETTLE, "chunk deleted")
        assert await client.put(data) == name
        await net.wait_for(lambda: copies_placed(net, name), SETTLE, "copies placed again")
        await trio.sleep(REQUEST_WINDOW + 26)
        with pytest.raises(RequestExpired):
            await send_delete(client, captured)
        assert still_stored(net, name)
        assert await client.get(name) == data


async def test_requests_dated_outside_the_window_are_refused_on_tcp() -> None:
    async with Testnet(vaults=8, transport="tcp") as net:
        client, data, name = await stored_chunk(net)
        for offset in (-(REQUEST_WINDOW + 100), CLOCK_SKEW + 90):
            with pytest.raises(RequestExpired):
                await send_delete(client, delete_request(client, name, network_time() + offset))
        assert still_stored(net, name)
        assert await client.get(name) == data


@asynccontextmanager
async def counting_listener() -> AsyncIterator[tuple[str, list[int]]]:
    """A raw TCP listener on loopback: its address and a one-element count of accepts."""
    accepts = [0]

    async def accept(stream: trio.SocketStream) -> None:
        accepts[0] += 1
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, host="127.0.0.1"), accept, 0)
        host, port = listeners[0].socket.getsockname()[:2]
        try:
            yield f"{host}:{port}", accepts
        finally:
            nursery.cancel_scope.cancel()


async def test_neighbour_gossip_only_from_vaults_and_bounded() -> None:
    rng = random.Random(14)
    async with Testnet(vaults=8, transport="tcp") as net, counting_listener() as (address,
                                                                                  accepts):
        vault = net.vaults[0]

        def names(count: int) -> list[list[Any]]:
            return [[Identity.generate(rng.randbytes(32)).name, address] for _ in range(count)]

        async with attacker_connection(vault, Identity.generate(rng.randbytes(32)),
                                       "client") as conn:
            conn.send({"t": "neighbour", "peers": names(1)})
            await wait_until(lambda: conn.closed, "a client's neighbour frame is refused")
        async with attacker_connection(vault, Identity.generate(rng.randbytes(32)),
                                       "vault") as conn:
            conn.send({"t": "neighbour", "peers": names(64)})
            await wait_until(lambda: conn.closed, "64 made-up peers is a malformed frame")
        assert accepts[0] == 0
        received: list[dict[str, Any]] = []
        async with attacker_connection(vault, Identity.generate(rng.randbytes(32)), "vault",
                                       received=received) as conn:
            for _ in range(10):
                conn.send({"t": "neighbour", "peers": names(NEIGHBOUR_PEERS)})
            conn.send({"t": "find", "id": 1, "target": vault.name})
            await wait_until(lambda: any(f.get("t") == "found" for f in received),
                             "every frame before the find was handled")
            await wait_until(lambda: accepts[0] > 0 and not vault.links.connecting,
                             "the vault tried the gossiped peers it wanted")
            assert accepts[0] <= NEIGHBOUR_UNPROVEN
            assert not conn.closed


async def test_connections_from_one_key_are_capped_and_clients_still_served() -> None:
    rng = random.Random(15)
    async with Testnet(vaults=8, transport="tcp") as net:
        vault = net.vaults[0]
        hog = Identity.generate(rng.randbytes(32))
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(attacker_connection(vault, hog, "client"))
                     for _ in range(TCP_MAX_CONNECTIONS + 88)]
            await wait_until(lambda: sum(not c.closed for c in conns)
                             == MAX_CONNECTIONS_PER_PEER, "all but the cap refused")
            client = await net.client()
            data = rng.randbytes(2048)
            name = await client.put(data)
            assert await client.get(name) == data


async def test_silent_connection_closed_after_the_idle_timeout() -> None:
    rng = random.Random(16)
    async with Testnet(vaults=8, transport="tcp", timing=Timing(idle_timeout=5.0)) as net:
        events = recorder(net)
        vault = net.vaults[0]
        silent_key, chatty_key = (Identity.generate(rng.randbytes(32)) for _ in range(2))
        async with (attacker_connection(vault, silent_key, "client") as silent,
                    attacker_connection(vault, chatty_key, "client") as chatty,
                    trio.open_nursery() as nursery):

            async def keep_pinging() -> None:
                while chatty.send({"t": "ping"}):
                    await trio.sleep(1.0)

            nursery.start_soon(keep_pinging)
            await wait_until(lambda: silent.closed, "the silent connection is closed")
            assert not chatty.closed
            nursery.cancel_scope.cancel()
        assert [e for e in events if isinstance(e, ev.FrameRejected)
                and e.peer == silent_key.name.hex()[:16] and "silent" in e.reason]


def far_links(vault: Vault) -> set[Name]:
    """A vault's links to far vaults its table does not hold: those that may make room."""
    routing = vault.routing
    return {n for n in vault.links.vaults if n not in routing and not (
        routing.in_proximity_range(n) or routing.may_hold_us_close(n))}


async def test_a_vault_at_its_link_cap_gives_a_close_vault_only_a_link_its_table_lacks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With its vault links full, a vault refuses a far vault, and admits one that would be
    among its closest by closing a link to a far vault its table does not hold (refused, close
    vaults dialled again and again and stormed a 256-vault boot). An attacker with keys close
    to it takes only such links: every vault of its table stays linked."""
    rng = random.Random(18)
    params = Parameters(group_size=4, proximity_size=4, bucket_size=4, max_peers=8)
    async with Testnet(vaults=8, transport="tcp", params=params, seed=1018) as net:
        # A vault whose far half holds a group: far keys there are neither close nor needed
        # for a short bucket (which a vault at its cap would make room for). The seed fixes
        # the vaults' names, so the same vault is picked every run.
        vault = next(v for v in net.vaults if v.routing.bucket_counts().get(0, 0) >= 4)
        routing = vault.routing

        def key(close: bool) -> Identity:
            for _ in range(10_000):
                found = Identity.generate(rng.randbytes(32))
                if close and routing.in_proximity_range(found.name):
                    return found
                if not close and not (routing.in_proximity_range(found.name)
                                      or routing.may_hold_us_close(found.name)
                                      or routing.short_of_a_group(found.name)):
                    return found
            raise AssertionError(f"no {'close' if close else 'far'} key in 10,000 tries")

        async with AsyncExitStack() as stack:
            async def dial(identity: Identity) -> Connection:
                return await stack.enter_async_context(
                    attacker_connection(vault, identity, "vault"))

            spare = key(close=False)
            await dial(spare)
            await wait_until(lambda: spare.name in vault.links.vaults, "a link off the table")
            far = far_links(vault)
            assert spare.name in far
            monkeypatch.setattr(links, "MAX_VAULT_CONNECTIONS", vault.links.vault_links())
            refused = await dial(key(close=False))
            await wait_until(lambda: refused.closed, "a far vault refused at the cap")
            assert far_links(vault) == far
            close = key(close=True)
            await dial(close)
            await wait_until(lambda: close.name in vault.links.vaults, "a close vault admitted")
            assert len(far_links(vault) & far) == len(far) - 1  # the oldest far link made room
            assert vault.links.vault_links() <= links.MAX_VAULT_CONNECTIONS
            for _ in range(3):
                await dial(key(close=True))
            await wait_until(lambda: vault.links.vault_links() == links.MAX_VAULT_CONNECTIONS
                             and not vault.links.connecting, "the cap held")
            assert all(peer in vault.links.vaults for peer in vault.routing.peers)

