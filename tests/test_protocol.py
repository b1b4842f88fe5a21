"""The typed protocol: every action a persona can receive has exactly one handler in its table,
every agreed op one commit, no handler hides outside the tables; an unknown action or op is
malformed input (a FrameError, never a crash); the enums keep the wire bytes of the strings they
replaced; one table maps a refusal's code to the client's exception."""

from __future__ import annotations

import inspect
from pathlib import Path

import msgpack
import pytest
import trio

from tests.personas.helpers import GROUP, MEMBERS, Ctx, Manager
from vaultnet import Testnet, wire
from vaultnet.client import errors
from vaultnet.client.maid import DataExists, NotOwner, PutFailure, VersionError
from vaultnet.client.mpid import Blocked, MessagingError
from vaultnet.identity import Identity
from vaultnet.messages import CLIENT_ACTIONS, Authority, Message, Persona
from vaultnet.personas.actions import MaidPut
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.dispatch import Committer, commits, dispatch_tables, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import PmidNode
from vaultnet.personas.version_manager import VersionManager
from vaultnet.protocol import Action, ErrorCode, EventKind, Op
from vaultnet.runtime import events as ev
from vaultnet.storage.records import encode
from vaultnet.storage.store import Database, RecordStore
from vaultnet.transport.tcp import TcpEndpoint
from vaultnet.wire import FrameError
from vaultnet.xor import Name

A = Action
SHARED = {A.TRANSFER, A.TRANSFER_QUERY, A.PAYLOAD_WANTED}
"""What every group persona handles (`GroupPersona`)."""
RECEIVES: dict[type[GroupPersona], set[Action]] = {
    MaidManager: {A.PUT, A.EXISTS_ANSWER, A.DELETE, A.PUT_VERSION, A.DELETE_BRANCH,
                  A.VERSION_RESULT, A.PUT_RESPONSE, A.REGISTER_VAULT, A.UNREGISTER_VAULT,
                  A.PMID_HEALTH, A.PUT_STRUCTURED, A.UPDATE_STRUCTURED, A.DELETE_STRUCTURED,
                  A.STRUCTURED_RESULT},
    DataManager: {A.PUT, A.STORED, A.PUT_FAILURE, A.EXISTS, A.GET, A.FETCH_RESPONSE,
                  A.SIBLING_FETCH, A.SIBLING_CONTENT, A.HOLDING, A.DELETE,
                  A.CHALLENGE_RESPONSE, A.INTEGRITY_FAILURE, A.RECORD_CHECK},
    PmidManager: {A.PUT, A.CONTENT_WANTED, A.DELETE, A.PUT_FAILURE, A.CORRECTION,
                  A.CAPACITY, A.GET_PMID_HEALTH},
    PmidNode: {A.STORE, A.DELETE, A.RECONCILE, A.CHALLENGE, A.FETCH, A.SEND_ACCOUNT},
    VersionManager: {A.PUT_VERSION, A.DELETE_BRANCH, A.GET_VERSIONS, A.GET_BRANCH,
                     A.PUT_STRUCTURED, A.UPDATE_STRUCTURED, A.DELETE_STRUCTURED,
                     A.GET_STRUCTURED},
    MpidManager: {A.SEND, A.ONLINE, A.OFFLINE, A.ACK, A.CHANGE_LIST, A.GET_LISTS,
                  A.GET_INBOX, A.DELIVER, A.DELIVERY},
}
COMMITS: dict[type[GroupPersona], set[Op]] = {
    MaidManager: {Op.PUT, Op.DELETE, Op.REGISTER_VAULT, Op.UNREGISTER_VAULT, Op.HEALTH,
                  Op.RECORD_CHARGE},
    DataManager: {Op.PUT, Op.REMOVE_PMID, Op.UNSUBSCRIBE, Op.INTEGRITY_FAILED},
    PmidManager: {Op.PUT, Op.DELETE, Op.FAILED, Op.CORRECT, Op.CAPACITY},
    PmidNode: set(),
    VersionManager: {Op.PUT_VERSION, Op.DELETE_BRANCH, Op.PUT_STRUCTURED,
                     Op.UPDATE_STRUCTURED, Op.DELETE_STRUCTURED},
    MpidManager: {Op.SEND, Op.ONLINE, Op.OFFLINE, Op.ACK, Op.CHANGE_LIST, Op.DELIVER,
                  Op.DELIVERED},
}
TO_CLIENTS = {A.PUT_OK, A.PUT_FAILURE, A.DELETE_OK, A.GET_RESPONSE, A.VERSION_ANSWER,
              A.STRUCTURED_ANSWER, A.MPID_ANSWER, A.MESSAGE, A.SYNCHRONISING,
              A.REQUEST_EXPIRED, A.VAULT_ANSWER}
"""What the clients receive (MaidClient, MpidClient)."""
NOT_IN_TABLES = {A.SYNC, A.PROBE}
"""Sync votes are taken by `GroupPersona.handle` before accumulation; probes by the routing
layer (`Vault._routing_action`)."""


@pytest.mark.parametrize("persona", list(RECEIVES), ids=lambda p: p.__name__)
def test_each_persona_handles_what_it_receives_once(persona: type[GroupPersona]) -> None:
    assert set(persona.HANDLERS) == RECEIVES[persona] | SHARED
    assert set(persona.COMMITS) == COMMITS[persona]
    handlers = {name: fn for name, fn in inspect.getmembers(persona, inspect.isfunction)
                if name.startswith("on_") and name != "on_churn"}
    commit_fns = {name: fn for name, fn in inspect.getmembers(persona, inspect.isfunction)
                  if name.startswith("commit_")}
    # every handler and commit the class has is the one its table runs (none unregistered,
    # none overridden without registering the override)
    assert sorted(handlers.values(), key=id) == sorted(set(persona.HANDLERS.values()), key=id)
    assert sorted(commit_fns.values(), key=id) == sorted(
        {entry.commit for entry in persona.COMMITS.values()}, key=id)
    for fn in [*handlers.values(), *commit_fns.values()]:
        assert (fn.__doc__ or "").strip(), f"{persona.__name__}.{fn.__name__} has no docstring"


def test_every_action_has_a_receiver_and_every_op_a_commit() -> None:
    handled = set().union(*(p.HANDLERS for p in RECEIVES))
    assert handled | TO_CLIENTS | NOT_IN_TABLES == set(Action)
    assert handled >= CLIENT_ACTIONS
    assert set().union(*(p.COMMITS for p in RECEIVES)) == set(Op)


def test_two_handlers_for_one_action_are_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="two handlers"):
        class Twice(GroupPersona):
            persona = Persona.MAID_MANAGER

            @handles(Action.PUT)
            def on_put(self, msg: Message, payload: bytes, ctx: Ctx, out: Outbox) -> None:
                """One."""

            @handles(Action.PUT)
            def on_put_again(self, msg: Message, payload: bytes, ctx: Ctx,
                             out: Outbox) -> None:
                """Two."""

    class Base:
        @commits(MaidPut)
        def commit_put(self, key: Name, action: MaidPut, ctx: Ctx, out: Outbox,
                       trace: bytes) -> None:
            """Base."""

    class Derived(Base):
        @commits(MaidPut)
        def commit_put(self, key: Name, action: MaidPut, ctx: Ctx, out: Outbox,
                       trace: bytes) -> None:
            """An override replaces its base's registration."""

    assert dispatch_tables(Derived)[1] == {Op.PUT: Committer(MaidPut, Derived.commit_put)}


def signed_probe(sender: Identity, to: bytes) -> Message:
    msg = Message(src=Authority(sender.name, Persona.ROUTING),
                  dst=Authority(to, Persona.ROUTING), action=Action.PROBE,
                  msg_id=bytes(16), trace_id=bytes(16), body={}, sender=sender.name)
    return msg.signed(sender.sign, sender.verify_key)


@pytest.mark.parametrize("action", ["bogus", "", "x" * 100, 7, None, b"put", ["put"]])
def test_an_unknown_action_is_a_frame_error(action: object) -> None:
    me = Identity.generate()
    raw = signed_probe(me, me.name).to_wire()
    with pytest.raises(FrameError, match="unknown action"):
        Message.from_wire({**raw, "a": action})


def test_decoded_actions_are_members_and_keep_the_wire_bytes() -> None:
    me = Identity.generate()
    msg = signed_probe(me, me.name)
    raw = msg.to_wire()
    decoded = Message.from_wire(wire.unpack(wire.pack(raw)))
    assert decoded.action is Action.PROBE
    decoded.check_signature()  # the signed header is byte for byte the same
    assert wire.pack(raw) == wire.pack({**raw, "a": "probe"})
    assert encode({"op": Op.PUT}) == encode({"op": "put"})


def test_an_unknown_or_foreign_op_is_refused_as_it_arrives(tmp_path: Path) -> None:
    """Votes for an op nobody knows, or one this persona does not commit, are malformed: each
    is a FrameError as it arrives (never counted toward a quorum), nothing committed."""
    clock = [0.0]
    own, *others = MEMBERS
    manager = Manager(RecordStore(Database(tmp_path / "db"), "accounts"))
    manager.attach(own)
    for i, op in enumerate(("bogus", Op.SEND.value)):
        data = encode({"op": op, "n": i})
        votes = [Message(src=Authority(GROUP, Persona.MAID_MANAGER, group=True),
                         dst=Authority(GROUP, Persona.MAID_MANAGER, group=True),
                         action=Action.SYNC, msg_id=bytes([i, j]) * 8, trace_id=bytes(16),
                         sender=member, body={"k": GROUP, "a": data})
                 for j, member in enumerate(others)]
        match = "unknown sync op" if op == "bogus" else "cannot commit"
        for vote in votes:
            with pytest.raises(FrameError, match=match):
                manager.handle(vote, Ctx(own, clock))
    assert manager.sync is not None and not manager.sync.pending()
    with pytest.raises(TypeError, match="an Op"):
        manager.propose(GROUP, MaidPut(GROUP, 1, bytes(16), Authority(GROUP, Persona.MAID_NODE)),
                        Ctx(own, clock), Outbox(), bytes(16))


def test_a_persona_refuses_an_action_it_does_not_handle(tmp_path: Path) -> None:
    manager = Manager(RecordStore(Database(tmp_path / "db"), "accounts"))
    manager.attach(MEMBERS[0])
    msg = Message(src=Authority(MEMBERS[1], Persona.MAID_MANAGER),
                  dst=Authority(MEMBERS[0], Persona.MAID_MANAGER), action=Action.STORE,
                  msg_id=bytes(16), trace_id=bytes(16), sender=MEMBERS[1], body={})
    with pytest.raises(FrameError, match="has no action 'store'"):
        manager.handle(msg, Ctx(MEMBERS[0], [0.0]))


def test_one_table_maps_refusals_to_exceptions() -> None:
    assert errors.refusal(ErrorCode.DATA_EXISTS, PutFailure) is DataExists
    assert errors.refusal("NotOwner", VersionError) is NotOwner
    assert errors.refusal("Blocked", MessagingError) is Blocked
    # a code of another family, an unlisted code or none: the operation's general failure
    assert errors.refusal("Blocked", PutFailure) is PutFailure
    assert errors.refusal(ErrorCode.LIST_FULL, MessagingError) is MessagingError
    assert errors.refusal(None, VersionError) is VersionError
    assert errors.refusal(["Blocked"], MessagingError) is MessagingError
    assert set(errors.ERRORS) <= set(ErrorCode)
    # structured data reads the shared codes with its own table
    table = errors.STRUCTURED_ERRORS
    assert errors.refusal("NotOwner", errors.StructuredError, table) is errors.NotRecordOwner
    assert errors.refusal("DataExists", errors.StructuredError, table) is errors.RecordExists
    assert errors.refusal("NotOwner", VersionError, table) is VersionError


def test_persona_events_read_back_with_their_kind() -> None:
    event = ev.PersonaEvent(1.0, bytes(64), EventKind.CHUNK_STORED, "PmidNode", bytes(64),
                            bytes(16), {"size": 3})
    again = ev.from_record(event.to_record())
    assert again == event and again.what is EventKind.CHUNK_STORED
    assert event.to_record()["what"] == "chunk_stored"


async def test_a_frame_with_an_unknown_action_costs_only_its_link() -> None:
    async with Testnet(vaults=4, transport="tcp") as net:
        target = net.vaults[0]
        rejected: list[ev.FrameRejected] = []
        net.bus.add_sink(lambda e: rejected.append(e) if isinstance(e, ev.FrameRejected)
                         else None)
        me = Identity.generate()
        conn = await TcpEndpoint(me, network_key=net.network_key).connect(target.address)
        raw = signed_probe(me, target.name).to_wire()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.run_writer)
            conn.send({"t": "msg", "m": {**raw, "a": "no_such_action"}})
            await net.wait_for(lambda: any("unknown action" in e.reason for e in rejected),
                               10, "frame rejected")
            nursery.cancel_scope.cancel()
        await conn.aclose()
        assert target.running
        got: list[ev.MessageReceived] = []
        net.bus.add_sink(lambda e: got.append(e) if isinstance(e, ev.MessageReceived)
                         and e.msg_id == b"p" * 16 else None)
        sender = net.vaults[1]
        sender.send(Message(src=Authority(sender.name, Persona.ROUTING),
                            dst=Authority(target.name, Persona.ROUTING), action=Action.PROBE,
                            msg_id=b"p" * 16, trace_id=bytes(16), body={},
                            sender=sender.name))
        await net.wait_for(lambda: bool(got), 10, "vault still serving")


def test_the_reused_packers_give_packb_bytes_also_after_a_failed_pack() -> None:
    """Frames and records are packed by one packer each, reused: a value that cannot be packed
    raises and leaves nothing behind, so the next frame or record is exactly what
    `msgpack.packb` makes of it, and equal records in any key order are equal bytes."""
    frame = {"t": "msg", "m": {"body": {"size": 6000}, "payload": b"\x00" * 300}}
    with pytest.raises(TypeError):
        wire.pack({"t": "msg", "m": {"half": b"x" * 100, "then": object()}})
    assert wire.pack(frame) == msgpack.packb(frame, use_bin_type=True)
    with pytest.raises(TypeError):
        encode({"a": [b"x" * 100, {1, 2}]})
    assert encode({"b": 1, "a": [b"x"]}) == encode({"a": [b"x"], "b": 1}) == msgpack.packb(
        {"a": [b"x"], "b": 1}, use_bin_type=True)


@pytest.mark.parametrize("persona", ["Maidmanager", "", ["DataManager"], {"a": 1}, 3, None])
def test_an_unknown_persona_is_a_malformed_authority(persona: object) -> None:
    with pytest.raises(FrameError, match="unknown persona"):
        Authority.from_wire([bytes(64), persona, True, None])
    assert Authority.from_wire([bytes(64), "DataManager", True, None]).persona is \
        Persona.DATA_MANAGER
