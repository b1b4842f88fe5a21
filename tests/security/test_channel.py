"""The secure channel and admission: attacks on real TCP testnets, and the sans-IO parts.

Each attack test asserts that the attack's effect did not happen: no connection attributed to a
vault the attacker is not, nothing readable by a relay, a tampered stream closed (only it), an
outsider vault refused with the one line "network key does not match".
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import msgpack
import nacl.public
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_link_room import joins_through_referrals
from vaultnet import Testnet, wire
from vaultnet.client.maid import NetworkUnavailable, open_client
from vaultnet.identity import Identity
from vaultnet.messages import ID_SIZE, Authority, Message, Persona
from vaultnet.runtime import events as ev
from vaultnet.runtime import links
from vaultnet.runtime.testnet import NETWORK_KEY_FILE, TestnetError
from vaultnet.runtime.vault import Vault
from vaultnet.transport.base import AdmissionRefused, Connection, ConnectionClosed, HandshakeError
from vaultnet.transport.channel import (
    EPHEMERAL_SIZE,
    LABEL,
    MAX_COUNTER,
    FrameProtector,
    Handshake,
)
from vaultnet.transport.tcp import MAX_HANDSHAKES, TcpEndpoint, TcpFrameStream, parse_address
from vaultnet.wire import FrameError

# -- helpers --------------------------------------------------------------------------------


def side(role: str = "vault", initiator: bool = True, key: bytes | None = None,
         expect: bytes | None = None, identity: Identity | None = None) -> Handshake:
    return Handshake(identity or Identity.generate(), role, f"{role}-{initiator}", initiator,
                     nacl.public.PrivateKey.generate(), key, expect)


def run(initiator: Handshake, responder: Handshake) -> None:
    """Carry the three handshake messages between two in-memory sides."""
    response = responder.receive(initiator.start())
    assert response is not None
    finish = initiator.receive(response)
    assert finish is not None
    assert responder.receive(finish) is None
    assert initiator.done and responder.done


def rejections(net: Testnet) -> list[ev.FrameRejected]:
    seen: list[ev.FrameRejected] = []
    net.bus.add_sink(lambda e: seen.append(e) if isinstance(e, ev.FrameRejected) else None)
    return seen


def registered_from(vault: Vault, sockname: tuple[str, int]) -> list[Connection]:
    """The connections `vault` has registered whose socket's far end is `sockname`."""
    found = []
    conns = ([c for group in vault.links.vaults.values() for c in group]
             + list(vault.links.clients.values()))
    for conn in conns:
        sock = conn.stream.socket  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            if sock.getpeername()[:2] == sockname:
                found.append(conn)
    return found


async def raw_stream(address: str) -> TcpFrameStream:
    return TcpFrameStream(await trio.open_tcp_stream(*parse_address(address)))


async def read_until_closed(stream: TcpFrameStream) -> bytes:
    """Everything that arrives on `stream` until the far end closes it."""
    got = bytearray()
    with contextlib.suppress(ConnectionClosed, FrameError):
        while True:
            got += await stream.receive_body()
    return bytes(got)


def probe(src: Vault, dst: bytes) -> Message:
    rng = random.Random()
    return Message(src=Authority(src.name, Persona.ROUTING), dst=Authority(dst, Persona.ROUTING),
                   action="probe", msg_id=rng.randbytes(ID_SIZE), trace_id=rng.randbytes(ID_SIZE),
                   body={}, sender=src.name)


async def delivered(net: Testnet, sender: Vault, msg: Message) -> None:
    """Send `msg` from `sender` and wait until its destination reports it received."""
    got: list[ev.MessageReceived] = []
    net.bus.add_sink(lambda e: got.append(e) if isinstance(e, ev.MessageReceived)
                     and e.msg_id == msg.msg_id else None)
    sender.send(msg)
    await net.wait_for(lambda: bool(got), 10, "probe delivered")


# -- attacks on a real TCP testnet ---------------------------------------------------------


async def test_relayed_handshake_cannot_register_the_relayer_as_a_vault() -> None:
    """The attack on the old handshake, step by step: the relayer opens a handshake with V,
    presents V's own first message to B as if it were V, and hands B's signed answer to V as
    the proof of being B. V refuses: B signed a transcript with B's ephemeral, the relayer holds
    no private key for either ephemeral, so the message does not even decrypt at V."""
    async with Testnet(vaults=8, transport="tcp") as net:
        v, b = net.vaults[0], net.vaults[1]
        to_v = await raw_stream(v.address)
        to_b = await raw_stream(b.address)
        relayer_at_v = to_v.socket.getsockname()[:2]
        refused_before = v.endpoint.refused

        await to_v.send_bodies([LABEL + os.urandom(EPHEMERAL_SIZE)])
        from_v = await to_v.receive_body()
        await to_b.send_bodies([LABEL + from_v[:EPHEMERAL_SIZE]])
        from_b = await to_b.receive_body()
        await to_v.send_bodies([from_b[EPHEMERAL_SIZE:]])

        assert await read_until_closed(to_v) == b""
        assert v.endpoint.refused == refused_before + 1
        assert isinstance(v.endpoint.last_refusal, HandshakeError)
        assert registered_from(v, relayer_at_v) == []
        # B's traffic to V flows on B's own connections; the relayer's socket to B carries
        # nothing but the handshake answer it already had, and B drops it at its timeout
        msg = probe(b, v.name)
        await delivered(net, b, msg)
        with trio.fail_after(30):
            leaked = await read_until_closed(to_b)
        assert leaked == b""


class Relay:
    """A man in the middle with no keys: forwards bytes between a dialler and `target`,
    recording them, and can flip one bit of the next chunk going to the target."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen = bytearray()
        self.tamper_next = False
        self.address = ""

    async def start(self, nursery: trio.Nursery) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        host, port = listeners[0].socket.getsockname()[:2]
        self.address = f"{host}:{port}"
        nursery.start_soon(trio.serve_listeners, self._relay, listeners)

    async def _relay(self, inbound: trio.SocketStream) -> None:
        outbound = await trio.open_tcp_stream(*parse_address(self.target))

        async def pump(src: trio.SocketStream, dst: trio.SocketStream,
                       towards_target: bool) -> None:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                while data := await src.receive_some(65536):
                    self.seen += data
                    if towards_target and self.tamper_next:
                        self.tamper_next = False
                        data = data[:-1] + bytes([data[-1] ^ 1])
                    await dst.send_all(data)
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await dst.aclose()

        async with inbound, outbound, trio.open_nursery() as nursery:
            nursery.start_soon(pump, inbound, outbound, True)
            nursery.start_soon(pump, outbound, inbound, False)


async def test_transparent_relay_reads_nothing_and_its_tampering_closes_that_connection() -> None:
    """A vault that dials B through a keyless relay gets a channel to the real B: the relay sees
    only ciphertext, and one flipped bit closes that connection at B and nothing else."""
    async with Testnet(vaults=8, transport="tcp") as net, trio.open_nursery() as nursery:
        v, b = net.vaults[0], net.vaults[1]
        rejected = rejections(net)
        relay = Relay(b.address)
        await relay.start(nursery)
        conn = await v.endpoint.connect(relay.address, expect=b.name)
        assert conn.peer == b.name and conn.peer_address == b.address
        nursery.start_soon(conn.run_writer)
        marker = os.urandom(32)
        conn.send({"t": "ping", "pad": marker})
        assert (await conn.receive())["t"] == "pong"
        assert marker not in relay.seen
        assert v.identity.verify_key not in relay.seen and b.identity.verify_key not in relay.seen

        relay.tamper_next = True
        conn.send({"t": "ping"})
        with trio.fail_after(10), pytest.raises(ConnectionClosed):
            await conn.receive()
        await net.wait_for(lambda: any(r.vault == b.name and r.peer == v.name.hex()[:16]
                                       and "authentication" in r.reason for r in rejected),
                           10, "tampered frame rejected at B")
        assert b.running and v.running
        await delivered(net, v, probe(v, b.name))
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("attack", ["tampered", "replayed", "reordered", "injected"])
async def test_altered_stream_closes_only_that_connection(attack: str) -> None:
    async with Testnet(vaults=8, transport="tcp") as net, trio.open_nursery() as nursery:
        target = net.vaults[2]
        rejected = rejections(net)
        bystander = await TcpEndpoint(Identity.generate(), role="client").connect(target.address)
        me = Identity.generate()
        conn = await TcpEndpoint(me, role="client").connect(target.address)
        for c in (bystander, conn):
            nursery.start_soon(c.run_writer)

        def sealed_ping(n: int) -> bytes:
            return conn.protector.seal(wire.pack({"t": "ping", "n": n}))

        first = sealed_ping(0)
        await conn.stream.send_bodies([first])
        assert (await conn.receive())["t"] == "pong"
        if attack == "tampered":
            body = bytearray(sealed_ping(1))
            body[5] ^= 0x40
            bodies = [bytes(body)]
        elif attack == "replayed":
            bodies = [first]
        elif attack == "reordered":
            one, two = sealed_ping(1), sealed_ping(2)
            bodies = [two, one]
        else:
            bodies = [os.urandom(len(first))]
        await conn.stream.send_bodies(bodies)
        with trio.fail_after(10), pytest.raises(ConnectionClosed):
            await conn.receive()
        assert [r.reason for r in rejected if r.peer == me.name.hex()[:16]] == [
            "frame failed authentication (altered, injected, replayed or out of order)"]
        await net.wait_for(lambda: me.name not in target.links.clients, 10, "connection forgotten")
        bystander.send({"t": "ping"})
        assert (await bystander.receive())["t"] == "pong"
        assert target.running
        nursery.cancel_scope.cancel()


async def test_vault_without_the_network_key_is_refused_on_both_sides() -> None:
    async with Testnet(vaults=8, transport="tcp") as net, trio.open_nursery() as nursery:
        target = net.vaults[3]
        outsiders = [Identity.generate() for _ in range(2)]
        for identity, key in zip(outsiders, (None, os.urandom(32)), strict=True):
            with pytest.raises(AdmissionRefused) as refused:
                await TcpEndpoint(identity, network_key=key).connect(target.address)
            assert str(refused.value) == "network key does not match"
            assert isinstance(target.endpoint.last_refusal, AdmissionRefused)
            assert str(target.endpoint.last_refusal) == "network key does not match"
        # and a testnet vault that dials an outsider's listener refuses it too
        outsider = TcpEndpoint(outsiders[1], network_key=os.urandom(32))
        await outsider.listen(nursery, lambda conn: trio.lowlevel.checkpoint())
        with pytest.raises(AdmissionRefused, match=r"^network key does not match$"):
            await target.endpoint.connect(outsider.address)
        with trio.fail_after(10):
            while outsider.last_refusal is None:
                await trio.sleep(0.01)
        assert str(outsider.last_refusal) == "network key does not match"
        assert all(i.name not in v.routing and i.name not in v.links.vaults
                   for i in outsiders for v in net.vaults)
        # the network key admits: the same outsider identity with it is a vault peer
        insider = await TcpEndpoint(outsiders[0], network_key=net.network_key).connect(
            target.address)
        assert insider.peer == target.name and insider.role == "vault"
        await insider.aclose()
        await outsider.aclose()
        nursery.cancel_scope.cancel()


async def test_client_without_a_key_is_served() -> None:
    async with Testnet(vaults=8, transport="tcp") as net, trio.open_nursery() as nursery:
        identity = Identity.generate()
        client = await open_client(TcpEndpoint(identity, role="client"),
                                   net.bootstrap_addresses(), nursery, identity)
        data = os.urandom(5000)
        name = await client.put(data)
        assert await client.get(name) == data
        nursery.cancel_scope.cancel()


def closed_by_far_end(sock: socket.socket) -> bool:
    """True once the far end has closed `sock` (a read would return end of file)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


async def test_silent_sockets_hold_few_descriptors_and_do_not_keep_a_vault_out() -> None:
    async with Testnet(vaults=2, transport="tcp") as net:
        target = net.vaults[0]
        assert isinstance(target.endpoint, TcpEndpoint)
        handshaking = target.endpoint.handshaking
        silent = [socket.create_connection(parse_address(target.address))
                  for _ in range(3 * MAX_HANDSHAKES)]
        await net.wait_for(lambda: sum(map(closed_by_far_end, silent)) == 2 * MAX_HANDSHAKES,
                           10, "the oldest silent sockets pushed out", every=0.01)
        assert [closed_by_far_end(s) for s in silent] == (
            [True] * (2 * MAX_HANDSHAKES) + [False] * MAX_HANDSHAKES)
        assert len(handshaking) == MAX_HANDSHAKES
        # a vault with the key links at once, while the newest silent sockets still wait
        with trio.fail_after(2):
            insider = await TcpEndpoint(Identity.generate(), network_key=net.network_key
                                        ).connect(target.address)
        assert insider.peer == target.name
        # the vault's side finishes its handshake (and frees its place) just after ours
        await net.wait_for(lambda: len(handshaking) == MAX_HANDSHAKES - 1
                           and closed_by_far_end(silent[-MAX_HANDSHAKES]), 10,
                           "the vault's side of the handshake done", every=0.01)
        assert [closed_by_far_end(s) for s in silent] == (
            [True] * (2 * MAX_HANDSHAKES + 1) + [False] * (MAX_HANDSHAKES - 1))
        await insider.aclose()
        for sock in silent:
            sock.close()


async def test_clients_dialling_every_vault_get_only_the_process_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients are budgeted per process (its descriptors), not per vault they dial: spread over
    every vault they still get no more, the rest are refused, vault links still form, and the
    count comes back whole when connections end, however the testnet ends."""
    monkeypatch.setattr(links, "MAX_PROCESS_CLIENTS", 6)
    before = links.PROCESS_CLIENTS.count
    async with Testnet(vaults=4, transport="tcp") as net:
        refused = rejections(net)

        def served() -> int:
            return sum(len(conns) for v in net.vaults for conns in v.links.clients.values())

        clients = [await TcpEndpoint(Identity.generate(), role="client").connect(v.address)
                   for v in net.vaults for _ in range(3)]  # 3 a vault: under its own cap
        full = "connection refused: this process's client connections full"
        await net.wait_for(lambda: sum(r.reason == full for r in refused) == 12 - 6, 10,
                           "the clients past the process's budget refused", every=0.01)
        assert served() == links.PROCESS_CLIENTS.count - before == 6
        turned_away = await net.client()  # a real client is told why, not left waiting
        with pytest.raises(NetworkUnavailable,
                           match=re.escape(f"the vault refused this client: {full}")):
            await turned_away.put(b"no room for this client")
        newcomer = await net.add_vault()  # vault links are not clients: still admitted
        await net.wait_converged(30)
        assert newcomer.links.vault_links() > 0
        for conn in clients[:3]:
            await conn.aclose()
        await net.wait_for(lambda: links.PROCESS_CLIENTS.count - before == served() < 6, 10,
                           "closed clients forgotten", every=0.01)
    assert links.PROCESS_CLIENTS.count == before  # the rest ended with the testnet


async def test_a_refused_vault_is_told_where_to_go_before_its_connection_closes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The `full` frame a vault at its cap sends a vault it refuses arrives before the close
    on a real socket too: a newcomer whose bootstrap vaults all refuse it still joins."""
    async with Testnet(vaults=12, transport="tcp") as net:
        await joins_through_referrals(net, monkeypatch)


# -- the network key ----------------------------------------------------------------------


async def test_network_key_file_created_private_and_kept(tmp_path: Path) -> None:
    async with Testnet(vaults=2, transport="tcp", data_dir=tmp_path) as net:
        first = net.network_key
    path = tmp_path / NETWORK_KEY_FILE
    assert path.read_bytes() == first and len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with Testnet(vaults=2, transport="tcp", data_dir=tmp_path) as net:
        assert net.network_key == first
    given_key = os.urandom(32)
    async with Testnet(vaults=2, transport="tcp", data_dir=tmp_path / "other",
                       network_key=given_key) as net:
        assert net.network_key == given_key
        assert all(v.endpoint.network_key == given_key for v in net.vaults)
    with pytest.raises(TestnetError, match="32 bytes"):
        Testnet(vaults=2, network_key=b"short")


@pytest.mark.parametrize("content", [None, b"x" * 31])
def test_cli_bad_network_key_file_is_one_line_exit_2(tmp_path: Path,
                                                     content: bytes | None) -> None:
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "vaultnet", "testnet", "--vaults", "2",
                             "--duration", "1", "--data-dir", str(tmp_path / "net"),
                             "--network-key", str(key)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaultnet: error:")
    assert str(key) in lines[0] and "network key" in lines[0]
    assert not (tmp_path / "net" / NETWORK_KEY_FILE).exists()


# -- the handshake state machine and the frame protector (sans-IO) -------------------------


def test_handshake_proves_both_identities_and_keys_both_directions() -> None:
    key = os.urandom(32)
    a_id, b_id = Identity.generate(), Identity.generate()
    a = side(identity=a_id, key=key, expect=b_id.name)
    b = side(initiator=False, identity=b_id, key=key)
    run(a, b)
    (a_peer, a_prot), (b_peer, b_prot) = a.established(), b.established()
    assert (a_peer.name, a_peer.key, a_peer.role, a_peer.address) == (
        b_id.name, b_id.verify_key, "vault", "vault-False")
    assert (b_peer.name, b_peer.role, b_peer.address) == (a_id.name, "vault", "vault-True")
    for sender, receiver in ((a_prot, b_prot), (b_prot, a_prot)):
        for n in range(3):
            assert receiver.open(sender.seal(b"frame %d" % n)) == b"frame %d" % n


def test_each_handshake_message_is_authenticated() -> None:
    for index in range(3):
        a, b = side(), side(initiator=False)
        messages = [a.start()]
        if index == 0:
            messages[0] = LABEL[:-1] + b"x" + messages[0][len(LABEL):]
            with pytest.raises(HandshakeError, match="not a vaultnet channel"):
                b.receive(messages[0])
            continue
        response = b.receive(messages[0])
        assert response is not None
        if index == 1:
            with pytest.raises(HandshakeError):
                a.receive(response[:-1] + bytes([response[-1] ^ 1]))
            continue
        finish = a.receive(response)
        assert finish is not None
        with pytest.raises(HandshakeError, match="failed authentication"):
            b.receive(finish[:3] + bytes([finish[3] ^ 1]) + finish[4:])


def test_substituted_ephemeral_breaks_the_signature_binding() -> None:
    """A relay that swaps in its own ephemeral key (and so could decrypt) cannot make the
    responder's signature fit: it covers the initiator's real ephemeral."""
    key = os.urandom(32)
    a, b = side(key=key), side(initiator=False, key=key)
    a.start()
    relay = side(key=key)  # the relay's own handshake towards B, with a throwaway identity
    response = b.receive(relay.start())
    assert response is not None
    with pytest.raises(HandshakeError, match="failed authentication"):
        a.receive(response)


def test_expect_and_roles() -> None:
    a, b = side(expect=os.urandom(64)), side(initiator=False, key=os.urandom(32))
    response = b.receive(a.start())
    assert response is not None
    with pytest.raises(HandshakeError, match="not the vault we meant"):
        a.receive(response)
    # only vaults listen: a dialler refuses a responder that says it is a client
    a, c = side(role="client"), side(role="client", initiator=False)
    response = c.receive(a.start())
    assert response is not None
    with pytest.raises(HandshakeError, match="only vaults accept"):
        a.receive(response)


@pytest.mark.parametrize(("dialler_key", "listener_key"), [
    ("k1", "k2"), (None, "k1"), ("k1", None), (None, None)])
def test_vaults_with_different_network_keys_both_refuse(dialler_key: str | None,
                                                        listener_key: str | None) -> None:
    keys = {"k1": os.urandom(32), "k2": os.urandom(32), None: None}
    a, b = side(key=keys[dialler_key]), side(initiator=False, key=keys[listener_key])
    run(a, b)
    for hs in (a, b):
        with pytest.raises(AdmissionRefused, match=r"^network key does not match$"):
            hs.established()


def test_clients_need_no_network_key() -> None:
    a, b = side(role="client"), side(initiator=False, key=os.urandom(32))
    run(a, b)
    assert a.established()[0].role == "vault" and b.established()[0].role == "client"


def test_low_order_ephemeral_refused() -> None:
    with pytest.raises(HandshakeError, match="unusable ephemeral"):
        side(initiator=False).receive(LABEL + bytes(32))


def test_protector_refuses_tamper_replay_reorder_injection_for_good() -> None:
    def pair() -> tuple[FrameProtector, FrameProtector]:
        k1, k2 = os.urandom(32), os.urandom(32)
        return FrameProtector(k1, k2), FrameProtector(k2, k1)

    def flipped(body: bytes) -> bytes:
        return bytes([body[0] ^ 1]) + body[1:]

    cases = {
        "tampered": lambda s: [flipped(s.seal(b"one"))],
        "replayed": lambda s: [first := s.seal(b"one"), first],
        "reordered": lambda s: list(reversed([s.seal(b"one"), s.seal(b"two")])),
        "injected": lambda s: [os.urandom(19)],
        "truncated": lambda s: [s.seal(b"one")[:-1]],
    }
    for name, make in cases.items():
        sender, receiver = pair()
        bodies = make(sender)
        opened = 0
        with pytest.raises(FrameError, match="failed authentication"):
            for body in bodies:
                receiver.open(body)
                opened += 1
        assert opened == (1 if name == "replayed" else 0), name
        assert receiver.broken
        with pytest.raises(FrameError, match="already failed"):
            receiver.open(sender.seal(b"after"))


def test_protector_refuses_to_reuse_a_nonce() -> None:
    sender = FrameProtector(os.urandom(32), os.urandom(32))
    sender.sent = MAX_COUNTER
    with pytest.raises(FrameError, match="counter exhausted"):
        sender.seal(b"x")


# -- msgpack limits -------------------------------------------------------------------------


def test_small_frame_cannot_declare_a_large_allocation() -> None:
    body = b"\xdc\x10\x00" * 1024  # 1024 nested array16 headers, each declaring 4096 elements
    tracemalloc.start()
    try:
        with pytest.raises(FrameError, match="declare more elements than it holds"):
            wire.unpack(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # msgpack reserved 32 MiB for this 3 KB body before the shape check; the check itself
    # needs a fixed few tens of KiB whatever the headers declare
    assert peak < 256 * 1024


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats()
                    | st.binary(max_size=300) | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=8)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=8), max_leaves=40))
def test_shape_check_accepts_every_encodable_frame(value: object) -> None:
    body = msgpack.packb({"v": value}, use_bin_type=True)
    wire.check_shape(body)
    for cut in (1, len(body) // 2, len(body) - 1):
        with pytest.raises(FrameError):
            wire.check_shape(body[:cut])
