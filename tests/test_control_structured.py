"""Structured data records through the control port: a `read` carries them, the testnet's
dashboard client puts, updates and deletes them, its refusals arrive as their types, and bad
arguments get error replies while the port serves on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import msgpack
import pytest
import trio

from vaultnet import wire
from vaultnet.client.errors import (
    ClientError,
    NoSuchRecord,
    NotRecordOwner,
    RecordExists,
    StructuredError,
)
from vaultnet.control import listener
from vaultnet.control.client import ControlRefused, OperationRefused, request
from vaultnet.control.controller import Controller
from vaultnet.control.listener import serve
from vaultnet.control.protocol import MAX_REQUEST, REFUSALS, Frames, refusal_name
from vaultnet.control.reading import (
    STRUCTURED_SHOWN,
    NetworkReading,
    Query,
    ReadingError,
    RecordReading,
)
from vaultnet.control.remote import RemoteNetwork
from vaultnet.personas.structured_data import MAX_DATA_SIZE
from vaultnet.runtime.testnet import Testnet
from vaultnet.xor import name_of

DEADLINE = 30.0
"""Seconds a test waits for a condition (the group agreeing, the port answering)."""
TOKEN = "secret"
TRACE = b"t" * 16
PROFILE, BOARD = name_of(b"profile"), name_of(b"board")


@pytest.fixture
async def port() -> AsyncIterator[tuple[Testnet, str]]:
    """An 8-vault TCP testnet and the address of its control port."""
    async with Testnet(vaults=8, transport="tcp") as net, trio.open_nursery() as nursery:
        yield net, await nursery.start(serve, Controller(net, TOKEN))
        nursery.cancel_scope.cancel()


Rows = dict[bytes, RecordReading]


def rows_of(reading: NetworkReading) -> Rows:
    """A reading's records, by name."""
    return {r.name: r for r in reading.records}


async def records(address: str) -> Rows:
    """The records the port's `read` carries, by name."""
    answer = await request(address, TOKEN, "read", [Query().to_record()])
    return rows_of(NetworkReading.from_record(answer["reading"]))


async def until_read(address: str, holds: Callable[[Rows], bool], what: str) -> Rows:
    """The first reading whose records satisfy `holds`; fails saying `what` was awaited if
    none does within DEADLINE."""
    with trio.move_on_after(DEADLINE):
        while not holds(rows := await records(address)):
            await trio.sleep(0.05)
        return rows
    raise AssertionError(f"timed out waiting for {what}")


def agreed(name: bytes, version: int) -> Callable[[Rows], bool]:
    """Whether a reading's records hold `name` at `version` on every member of its group."""
    def check(rows: Rows) -> bool:
        row = rows.get(name)
        return row is not None and row.version == version and row.holding == len(row.group)
    return check


async def test_a_record_is_put_read_updated_and_deleted_through_the_port(
        port: tuple[Testnet, str]) -> None:
    _, address = port
    owner = (await request(address, TOKEN, "session", []))["owner"]
    assert await records(address) == {}
    assert await request(address, TOKEN, "put_structured", [PROFILE, TRACE],
                         b"status: here") == {"version": 0}
    row = (await until_read(address, agreed(PROFILE, 0), "v0 on its group"))[PROFILE]
    assert (row.owner, row.size, len(row.group)) == (owner, len(b"status: here"), 4)

    assert await request(address, TOKEN, "update_structured", [PROFILE, TRACE],
                         b"") == {"version": 1}  # a record's data may be empty
    row = (await until_read(address, agreed(PROFILE, 1), "v1 on its group"))[PROFILE]
    assert row.size == 0

    assert await request(address, TOKEN, "delete_structured", [PROFILE, TRACE]) == {
        "version": 1}
    await until_read(address, lambda rows: PROFILE not in rows, "the record gone")


async def test_refusals_arrive_as_their_types(port: tuple[Testnet, str]) -> None:
    net, address = port
    await request(address, TOKEN, "put_structured", [PROFILE, TRACE], b"mine")
    with pytest.raises(OperationRefused) as exists:
        await request(address, TOKEN, "put_structured", [PROFILE, TRACE], b"again")
    assert exists.value.refusal is RecordExists and exists.value.kind == "refused"
    assert f"structured data at {PROFILE.hex()[:16]}" in str(exists.value)

    await (await net.client()).put_structured(BOARD, b"someone else's")
    for command, content in (("update_structured", b"mine now"), ("delete_structured", None)):
        with pytest.raises(OperationRefused) as other:
            await request(address, TOKEN, command, [BOARD, TRACE], content)
        assert other.value.refusal is NotRecordOwner, command
    with pytest.raises(OperationRefused) as missing:
        await request(address, TOKEN, "update_structured", [name_of(b"nothing"), TRACE], b"x")
    assert issubclass(missing.value.refusal, StructuredError)
    assert missing.value.refusal is NoSuchRecord

    rows = await until_read(address, lambda rows: agreed(BOARD, 0)(rows)
                            and agreed(PROFILE, 0)(rows), "both records, unchanged")
    session = await request(address, TOKEN, "session", [])
    assert rows[PROFILE].owner == session["owner"] != rows[BOARD].owner


# Each bad request: command, arguments, content frame (None: none), the reply's kind, and a
# fragment of its error.
BAD: dict[str, tuple[str, list[Any], bytes | None, str, str]] = {
    "a hex name": ("put_structured", [PROFILE.hex(), TRACE], b"x", "command",
                   "RECORD must be 64 bytes"),
    "a short name": ("delete_structured", [b"x", TRACE], None, "command",
                     "RECORD must be 64 bytes"),
    "no trace": ("update_structured", [PROFILE], b"x", "command",
                 "usage: update_structured RECORD TRACE"),
    "a short trace": ("delete_structured", [PROFILE, b"t"], None, "command",
                      "TRACE must be 16 bytes"),
    "an extra argument": ("delete_structured", [PROFILE, TRACE, 1], None, "command",
                          "usage: delete_structured RECORD TRACE"),
    "arguments not a list": ("put_structured", {"name": PROFILE}, b"x", "malformed",
                             "arguments must be a list"),
    "data over the limit": ("put_structured", [PROFILE, TRACE], b"x" * (MAX_DATA_SIZE + 1),
                            "command", f"content must be 0 to {MAX_DATA_SIZE} bytes"),
    "no content frame": ("update_structured", [PROFILE, TRACE], None, "timeout",
                         "no content frame"),
}


async def test_bad_record_commands_get_error_replies_and_the_port_serves_on(
        port: tuple[Testnet, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listener, "CONTENT_TIMEOUT", 0.5)
    _, address = port
    for case, (command, args, content, kind, fragment) in BAD.items():
        with pytest.raises(ControlRefused) as refused:
            await request(address, TOKEN, command, args, content)
        assert not isinstance(refused.value, OperationRefused), case
        assert refused.value.kind == kind, case
        assert fragment in str(refused.value), (case, str(refused.value))
    assert await records(address) == {}  # none of them put anything
    assert (await request(address, TOKEN, "status", []))["vaults"] == 8


async def test_a_remote_network_puts_as_the_testnets_client_and_reads_the_records(
        port: tuple[Testnet, str]) -> None:
    _, address = port
    remote = RemoteNetwork(address, TOKEN)
    ready = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(remote.run, ready.set)
        with trio.fail_after(DEADLINE):
            await ready.wait()
            owner = remote.owner_key()
            assert owner == (await request(address, TOKEN, "session", []))["owner"]
            assert await remote.put_structured(PROFILE, b"v0", remote.new_trace()) == 0
            assert await remote.update_structured(PROFILE, b"v1", remote.new_trace()) == 1
            while (reading := remote.read(Query())) is None or not agreed(PROFILE, 1)(
                    rows_of(reading)):
                await trio.sleep(0.05)
            with pytest.raises(OperationRefused) as exists:
                await remote.put_structured(PROFILE, b"again", remote.new_trace())
            assert exists.value.refusal is RecordExists
            assert await remote.delete_structured(PROFILE, remote.new_trace()) == 1
        nursery.cancel_scope.cancel()


def test_records_survive_the_wire_and_malformed_rows_are_refused() -> None:
    row = RecordReading(PROFILE, b"o" * 32, 3, 12, (b"a" * 64, b"b" * 64), 2)
    reading = NetworkReading((), (), (), (), (), (row,))
    wired = msgpack.unpackb(msgpack.packb(reading.to_record(), use_bin_type=True), raw=False,
                            strict_map_key=False)
    assert NetworkReading.from_record(wired) == reading
    good = row.to_record()
    for bad in ([good[:5]], [[PROFILE[:8], *good[1:]]], [[*good[:1], b"o" * 31, *good[2:]]],
                [[*good[:2], -1, *good[3:]]], [[*good[:2], True, *good[3:]]],
                [[*good[:5], 3]], [[*good[:4], [b"a" * 64, "b"], 1]], "rows",
                [good] * (STRUCTURED_SHOWN + 1)):
        with pytest.raises(ReadingError):
            NetworkReading.from_record({**wired, "records": bad})


def test_a_failure_crosses_the_wire_as_its_own_type_or_its_nearest_known_one() -> None:
    assert REFUSALS["NotRecordOwner"] is NotRecordOwner
    assert refusal_name(NotRecordOwner(PROFILE, "not the owner")) == "NotRecordOwner"

    class Elsewhere(RecordExists):
        """A failure a newer client might raise."""

    assert refusal_name(Elsewhere(PROFILE, "exists")) == "RecordExists"
    assert refusal_name(ClientError("starting")) == "ClientError"


@pytest.mark.parametrize(("refusal", "raised"), [
    ("NotRecordOwner", OperationRefused), ("NoSuchThing", ControlRefused),
    ([1], ControlRefused), (None, ControlRefused)])
async def test_a_refusal_reply_is_typed_only_when_it_names_a_failure_this_side_knows(
        refusal: object, raised: type[ControlRefused]) -> None:
    reply = {"ok": False, "error": "no", "kind": "refused", "refusal": refusal}

    async def answer(stream: trio.SocketStream) -> None:
        await Frames(stream).next(MAX_REQUEST)
        await stream.send_all(wire.encode_frame(reply))

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, answer, 0, host="127.0.0.1"))
        host, number = listeners[0].socket.getsockname()[:2]
        with trio.fail_after(DEADLINE), pytest.raises(ControlRefused) as refused:
            await request(f"{host}:{number}", TOKEN, "delete_structured", [PROFILE, TRACE])
        nursery.cancel_scope.cancel()
    assert type(refused.value) is raised and refused.value.kind == "refused"
    assert str(refused.value) == "no"
