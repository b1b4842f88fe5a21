"""The control port's commands for an attached dashboard: the bounded event subscription, its
subscriber limit, the typed data commands and their answers to bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
import trio

from vaultnet import wire
from vaultnet.client.maid import MAX_CHUNK_SIZE
from vaultnet.control import listener, subscriptions
from vaultnet.control.client import ControlError, ControlRefused, EventStream, WrongToken, request
from vaultnet.control.controller import Controller
from vaultnet.control.listener import serve
from vaultnet.control.protocol import DROPPED
from vaultnet.control.reading import (
    MAX_CHUNKS,
    MESSAGE_KEY_SIZE,
    GroupMember,
    NetworkReading,
    Query,
    ReadingError,
    VaultReading,
    VersionedState,
)
from vaultnet.control.remote import RemoteNetwork
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet

DEADLINE = 30.0
"""Seconds a test waits for the port to answer (a deadline on a condition)."""
TOKEN = "secret"
TRACE = b"t" * 16
KEY = b"k" * 64


@pytest.fixture
async def port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Testnet, str]]:
    """A 6-vault TCP testnet and the address of its control port, with small limits: a
    subscriber buffer of 10 events, one subscriber, 0.5 s for a content frame."""
    monkeypatch.setattr(subscriptions, "SUBSCRIBER_BUFFER", 10)
    monkeypatch.setattr(subscriptions, "MAX_SUBSCRIBERS", 1)
    monkeypatch.setattr(listener, "CONTENT_TIMEOUT", 0.5)
    async with Testnet(vaults=6, transport="tcp") as net, trio.open_nursery() as nursery:
        yield net, await nursery.start(serve, Controller(net, TOKEN))
        nursery.cancel_scope.cancel()


async def test_a_slow_subscriber_loses_events_counted_and_never_holds_the_network(
        port: tuple[Testnet, str]) -> None:
    net, address = port
    stream = await EventStream.open(address, TOKEN)
    vault = net.vaults[0]
    for i in range(100):  # all at once: the subscriber cannot read a single one meanwhile
        net.bus.emit(ev.FaultInjected(float(i), vault.name, f"mark-{i}"))
    records: list[dict[str, Any]] = []
    with trio.fail_after(DEADLINE):
        while not any(r["kind"] == DROPPED for r in records):
            records += await stream.records()
    marks = [r["fault"] for r in records if r["kind"] == "fault"]
    dropped = max(r["dropped"] for r in records if r["kind"] == DROPPED)
    assert marks == [f"mark-{i}" for i in range(len(marks))]  # the oldest kept, in order
    # the buffer's 10, and one more if the port's sender was already waiting for an event
    assert 0 < len(marks) <= 11 and dropped >= 100 - len(marks)
    event = ev.from_record(next(r for r in records if r["kind"] == "fault"))
    assert event == ev.FaultInjected(0.0, vault.name, "mark-0")
    await stream.aclose()


async def test_subscribers_are_limited_and_a_closed_one_frees_its_place(
        port: tuple[Testnet, str]) -> None:
    _, address = port
    first = await EventStream.open(address, TOKEN)
    with pytest.raises(ControlRefused) as busy:
        await EventStream.open(address, TOKEN)
    assert busy.value.kind == "busy"
    with pytest.raises(WrongToken):
        await EventStream.open(address, "not the token")
    await first.aclose()
    with trio.fail_after(DEADLINE):
        while True:  # the testnet frees the place once it sees the connection closed
            try:
                await (await EventStream.open(address, TOKEN)).aclose()
                break
            except ControlRefused as exc:
                assert exc.kind == "busy"
                await trio.sleep(0.05)
    assert (await request(address, TOKEN, "status", []))["vaults"] == 6


# Each bad request: command, arguments, content frame (None: none), the reply's kind, and a
# fragment of its error.
BAD: dict[str, tuple[str, list[Any], bytes | None, str, str]] = {
    "get by a hex name": ("get", ["ab" * 64], None, "command", "CHUNK must be 64 bytes"),
    "delete a short name": ("delete", [b"x"], None, "command", "CHUNK must be 64 bytes"),
    "put without a trace": ("put", [], b"x", "command", "usage: put TRACE"),
    "put nothing": ("put", [TRACE], b"", "command", "content must be 1 to"),
    "put too much": ("put", [TRACE], b"x" * (MAX_CHUNK_SIZE + 1), "command",
                     "content must be 1 to"),
    "put with no content frame": ("put", [TRACE], None, "timeout", "no content frame"),
    "read a list": ("read", [[]], None, "command", "a query is a map"),
    "read too many chunks": ("read", [Query(chunks=(KEY,) * (MAX_CHUNKS + 1)).to_record()],
                             None, "command", f"at most {MAX_CHUNKS} names"),
    "a version without an id": ("put_version", [KEY, [1], TRACE], b"x", "command",
                                "PARENT must be a version"),
    "delete no tip": ("delete_branch", [KEY, None, TRACE], None, "command",
                      "TIP must be a version"),
    "send nothing": ("send", ["alice", "bob", b"", TRACE], None, "command",
                     "TEXT must be 1 to"),
    "send as a number": ("send", [1, "bob", b"hi", TRACE], None, "malformed",
                         "FROM is not one"),
    "toggle an unknown identity": ("toggle", ["carol", TRACE], None, "refused",
                                   "unknown identity 'carol'"),
    "subscribe with an argument": ("subscribe", ["x"], None, "command", "usage: subscribe"),
}


async def test_bad_data_requests_get_error_replies_and_the_port_serves_on(
        port: tuple[Testnet, str]) -> None:
    _, address = port
    for case, (command, args, content, kind, fragment) in BAD.items():
        with pytest.raises(ControlRefused) as refused:
            await request(address, TOKEN, command, args, content)
        assert refused.value.kind == kind, case
        assert fragment in str(refused.value), (case, str(refused.value))

    host, _, number = address.rpartition(":")
    async with await trio.open_tcp_stream(host, int(number)) as raw:
        await raw.send_all(wire.encode_frame({"token": TOKEN, "command": "put",
                                              "args": [TRACE]}))
        await raw.send_all(wire.encode_frame({"data": b"x"}))
        decoder = wire.FrameDecoder()
        with trio.fail_after(DEADLINE):
            while (reply := decoder.next_frame()) is None:
                decoder.feed(await raw.receive_some(4096))
    assert reply["kind"] == "malformed" and "a content frame is a map" in reply["error"]
    assert (await request(address, TOKEN, "status", []))["vaults"] == 6


async def test_a_put_get_read_and_delete_through_the_port(port: tuple[Testnet, str]) -> None:
    _, address = port
    session = await request(address, TOKEN, "session", [])
    assert session["transport"] == "tcp" and session["vaults"] == 6
    assert [m[0] for m in session["mpids"]] == ["alice", "bob"]
    name = (await request(address, TOKEN, "put", [TRACE], b"attached" * 100))["name"]
    assert (await request(address, TOKEN, "get", [name]))["size"] == 800
    answer = await request(address, TOKEN, "read", [Query(chunks=(name,)).to_record()])
    reading = NetworkReading.from_record(answer["reading"])
    assert len(reading.vaults) == 6
    assert dict(reading.holders)[name]["P"]  # the Primary is stored when the put returns
    assert await request(address, TOKEN, "delete", [name]) == {}


def test_a_reading_survives_the_wire_and_a_malformed_one_is_refused() -> None:
    v, w = VersionName(0, b"a" * 64), VersionName(1, b"b" * 64)
    tree = VersionedState(((v, None), (w, v)), v, frozenset({w}),
                          (GroupMember(b"m" * 64, "agrees", 2),), (b"s" * 64,))
    reading = NetworkReading(
        (VaultReading(b"v" * 64, 10, {"P": 1}, ((b"c" * 64, "P", 10),), 3, 4, 5,
                      (b"g" * 64,)),),
        ((b"v" * 64, {"stored": 10, "lost": 0, "count": 1}),),
        ((b"c" * 64, {"P": [b"v" * 64], "B": [], "S": []}),), ((KEY, tree),),
        ((b"x" * MESSAGE_KEY_SIZE, (b"v" * 64,)),))
    wired = msgpack.unpackb(msgpack.packb(reading.to_record(), use_bin_type=True), raw=False,
                            strict_map_key=False)
    assert NetworkReading.from_record(wired) == reading
    for bad in ({"vaults": 1}, [], {**wired, "trees": [[KEY, [[[1]], None, [], [], []]]]}):
        with pytest.raises(ReadingError):
            NetworkReading.from_record(bad)


async def test_a_remote_network_drains_reads_and_says_when_the_testnet_is_gone() -> None:
    async with Testnet(vaults=4, transport="tcp") as net, trio.open_nursery() as outer:
        port_scope = trio.CancelScope()

        async def port(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            with port_scope:
                await serve(Controller(net, TOKEN), task_status=task_status)

        remote = RemoteNetwork(await outer.start(port), TOKEN)
        ready = trio.Event()
        with pytest.raises(BaseExceptionGroup) as gone:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(remote.run, ready.set)
                with trio.fail_after(DEADLINE):
                    await ready.wait()
                    assert remote.ready and "tcp 4 vaults" in remote.describe()
                    assert set(remote.mpids()) == {"alice", "bob"}
                    while (reading := remote.read(Query())) is None:
                        await trio.sleep(0.05)
                    assert len(reading.vaults) == 4 and remote.read(Query()) is None
                    _, trace = await remote.put(b"through the port")
                    while not any(getattr(e, "trace", b"") == trace for e in remote.drain(1000)):
                        await trio.sleep(0.05)
                port_scope.cancel()  # the testnet stops serving
        assert all(isinstance(e, ControlError) for e in leaves(gone.value))
        assert not remote.ready
        outer.cancel_scope.cancel()


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions in `error`, out of its groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]
