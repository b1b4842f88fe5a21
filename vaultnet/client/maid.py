"""The client side: a MaidNode that stores, fetches and deletes chunks, version trees and
structured data records through a bootstrap vault.

Answers from a manager group count only when the accumulation quorum of distinct members sent
the same answer (the client cannot see the group, so it counts distinct signed senders). Chunk
content is checked against its name whoever sends it, so a cached answer is as good as any.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar, overload

import trio

from vaultnet.client.errors import (
    STRUCTURED_ERRORS,
    AllowanceExceeded,
    ChunkSizeError,
    ClientError,
    DataExists,
    DeleteFailure,
    DeleteNoAnswer,
    GetNoAnswer,
    InvalidRegistration,
    InvalidSignature,
    InvalidVersion,
    MalformedAnswer,
    NetworkUnavailable,
    NoAnswer,
    NoSuchData,
    NoSuchRecord,
    NoSuchVersion,
    NotOwner,
    NotRecordOwner,
    PutFailure,
    PutNoAnswer,
    RecordExists,
    RecordTooLarge,
    RequestExpired,
    StaleVersion,
    StructuredError,
    StructuredNoAnswer,
    TooManyVaults,
    TraceIdError,
    VaultNoAnswer,
    VaultRefused,
    VersionError,
    VersionLimit,
    VersionNoAnswer,
    carried,
    read_answer,
    refused,
)
from vaultnet.identity import Identity
from vaultnet.messages import ID_SIZE, Authority, Message, Persona, derived_id
from vaultnet.personas.bodies import (
    Body,
    BranchBody,
    ClientPutBody,
    ClientPutVersionBody,
    DeleteOkBody,
    DeleteStructuredBody,
    EmptyBody,
    ExpiredBody,
    GetResponseBody,
    KeyBody,
    NameBody,
    PutOkBody,
    PutRefusedBody,
    RegisterVaultBody,
    StructuredAnswerBody,
    StructuredBody,
    VaultAnswerBody,
    VersionAnswerBody,
    registration_bytes,
)
from vaultnet.personas.records import VaultHealth
from vaultnet.personas.structured_data import (
    MAX_DATA_SIZE,
    MAX_VERSION,
    RECORD_NONCE_SIZE,
    StructuredRecord,
    delete_bytes,
    is_version,
    signed_bytes,
)
from vaultnet.personas.tree_access import MAX_OWNERS, TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import Action
from vaultnet.routing import Parameters
from vaultnet.storage.store import CopyKind, chunk_name_of, copy_name
from vaultnet.transport.base import Connection, ConnectionClosed, Endpoint, TransportError
from vaultnet.transport.clock import network_time
from vaultnet.wire import MAX_CHUNK_SIZE as MAX_CHUNK_SIZE  # re-exported: part of the client API
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name, name_of

__all__ = [  # the exceptions are defined in vaultnet.client.errors, re-exported here
    "MAX_CHUNK_SIZE", "MAX_DATA_SIZE", "AllowanceExceeded",
    "ChunkSizeError", "ClientError", "DataExists",
    "DeleteFailure", "DeleteNoAnswer", "GetNoAnswer", "InvalidRegistration",
    "InvalidSignature", "InvalidVersion", "MaidClient", "MalformedAnswer", "NetworkUnavailable",
    "NoAnswer", "NoSuchData", "NoSuchRecord", "NoSuchVersion", "NotOwner", "NotRecordOwner",
    "PutFailure", "PutNoAnswer", "RecordExists", "RecordTooLarge", "RequestExpired",
    "StaleVersion", "StructuredError", "StructuredNoAnswer", "StructuredRecord",
    "TooManyVaults", "TraceIdError", "VaultNoAnswer", "VaultRefused", "VersionError",
    "VersionLimit",
    "VersionNoAnswer", "check_chunk_size", "open_client",
]

REQUEST_TIMEOUT = 15.0
ATTEMPTS = 3
MAX_WAITERS = 1024
KEEPALIVE = 20.0
"""Seconds between the pings a client sends: vaults close a connection that stays silent for
their idle timeout (60 s), and a client may sit idle between requests for longer."""
REASON_SHOWN = 200
"""Characters of a vault's refusal reason a client keeps for its error (the vault's own reasons
are one line; a hostile vault's longer text is cut)."""
ClientT = TypeVar("ClientT", bound="MaidClient")


def check_chunk_size(size: int) -> None:
    """ChunkSizeError unless `size` bytes can be stored as one chunk (1..MAX_CHUNK_SIZE)."""
    if not 0 < size <= MAX_CHUNK_SIZE:
        raise ChunkSizeError(size)

class _Waiter:
    """Collects answers to one request until a quorum of distinct senders agree."""

    def __init__(self, quorum: int) -> None:
        self.quorum = quorum
        self.votes: dict[bytes, set[Name]] = defaultdict(set)
        self.result: Message | None = None
        self.done = trio.Event()
        self.accepted = False
        """A manager answered "synchronising" since the request was last sent."""

    def offer(self, msg: Message, key: bytes, quorum: int | None = None) -> None:
        """Count one manager's answer under `key`: the request has its result once a quorum
        of managers sent the same answer."""
        voters = self.votes[key]
        voters.add(msg.sender)
        if len(voters) >= (quorum or self.quorum) and self.result is None:
            self.result = msg
            self.done.set()


class MaidClient:
    """A connected MaidNode. Use `open_client` (or `Testnet.client()`) to get one."""

    node_persona = Persona.MAID_NODE

    def __init__(self, identity: Identity, conn: Connection, params: Parameters | None = None,
                 rng: random.Random | None = None) -> None:
        self.identity = identity
        self.name: Name = identity.name
        self.conn = conn
        self.relay: Name = conn.peer
        self.params = params or Parameters()
        self.timeout = REQUEST_TIMEOUT
        self._waiters: dict[bytes, _Waiter] = {}
        self.closed = False
        self._lost = "connection to the network lost"
        """What every request raises (NetworkUnavailable) once `run` has stopped."""
        self._rng = rng  # seeded only on the simulator, where runs must be reproducible
        self.health: list[VaultHealth] = []
        """The PmidHealth of the vaults this client registered, as the last `put` that
        succeeded carried it (empty before one, or with no vault registered)."""

    def new_id(self) -> bytes:
        """A fresh random message id (seeded on the simulator, so runs reproduce)."""
        return self.random_bytes(ID_SIZE)

    def random_bytes(self, size: int) -> bytes:
        """`size` fresh random bytes (ids, record nonces; seeded on the simulator, so runs
        reproduce)."""
        return self._rng.randbytes(size) if self._rng is not None else os.urandom(size)

    @property
    def authority(self) -> Authority:
        """Who we are on the wire: our name and persona, via our relay, so answers find us."""
        return Authority(self.name, self.node_persona, relay=self.relay)

    async def run(self) -> None:
        """Read answers until the connection closes (run in a nursery)."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.conn.run_writer)
                nursery.start_soon(self._keepalive)
                try:
                    while True:
                        self._on_frame(await self.conn.receive())
                except ConnectionClosed:
                    pass
                except FrameError as exc:
                    self._lost = f"connection to the network closed on a malformed frame: {exc}"
                nursery.cancel_scope.cancel()
        finally:
            self.closed = True
            for waiter in self._waiters.values():
                waiter.done.set()
            await self.conn.aclose()

    async def _keepalive(self) -> None:
        """Ping the vault we are connected through, so an idle client keeps its connection."""
        while self.conn.send({"t": "ping"}):
            await trio.sleep(KEEPALIVE)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        """Take one frame from the vault we are connected through: a ping, or a message that
        answers a request of ours (or is pushed to us). FrameError for a malformed or forged
        message: `run` then closes the connection, and the requests waiting raise
        NetworkUnavailable saying so. An answer's body is read as its record by the request
        it answers (MalformedAnswer there); only a get's content is checked here."""
        if frame.get("t") == "ping":
            self.conn.send({"t": "pong"})
            return
        if frame.get("t") == "refused":  # the vault is about to close: our requests say why
            reason = frame.get("reason")
            if isinstance(reason, str):
                self._lost = f"the vault refused this client: {reason[:REASON_SHOWN]}"
            return
        if frame.get("t") != "msg":
            return
        msg = Message.from_wire(frame.get("m"))
        if msg.sender != self.conn.peer:
            msg.check_signature()
        waiter = self._waiters.get(msg.msg_id)
        if waiter is None:
            self._unsolicited(msg)
            return
        if msg.action == Action.SYNCHRONISING:
            waiter.accepted = True
            return
        if msg.action == Action.GET_RESPONSE:
            if not msg.payload:  # no content: `get` reads why (MalformedAnswer if it cannot)
                waiter.offer(msg, b"none", quorum=1)
            elif _holds_content(msg):
                waiter.offer(msg, b"data", quorum=1)
            return
        waiter.offer(msg, msg.content_key())

    def _unsolicited(self, msg: Message) -> None:
        """A message that answers no request of ours (an MpidNode's pushed messages)."""

    def _message(self, dst: Authority, action: Action, body: Body, msg_id: bytes,
                 trace: bytes, payload: bytes = b"") -> Message:
        if len(trace) != ID_SIZE:
            raise TraceIdError(len(trace))
        msg = Message(src=self.authority, dst=dst, action=action, msg_id=msg_id, trace_id=trace,
                      body=body.encode(), sender=self.name, payload=payload, sent_at=network_time())
        return msg.signed(self.identity.sign, self.identity.verify_key)

    async def _request(self, msg: Message, answers: list[bytes], quorum: int) -> Message | None:
        """Send `msg` (re-sending the same id on timeout: the firewall answers duplicates) and
        wait for one of the expected answer ids. RequestExpired if the managers refused it
        for its age."""
        if self.closed:
            raise NetworkUnavailable("not connected")
        if len(self._waiters) >= MAX_WAITERS:
            raise ClientError("too many requests in flight")
        waiter = _Waiter(quorum)
        answers = [*answers, derived_id(Action.REQUEST_EXPIRED, msg.msg_id),
                   derived_id(Action.SYNCHRONISING, msg.msg_id)]
        for answer in answers:
            self._waiters[answer] = waiter
        try:
            for _ in range(ATTEMPTS):
                # A request the managers said they are still agreeing on is not sent again
                # (it would only be answered "synchronising" again): we wait once more.
                if not waiter.accepted and not self.conn.send(msg.frame()):
                    raise NetworkUnavailable(self._lost)
                waiter.accepted = False
                with trio.move_on_after(self.timeout):
                    await waiter.done.wait()
                if waiter.result is not None or self.closed:
                    break
            if self.closed and waiter.result is None:
                raise NetworkUnavailable(self._lost)
            if waiter.result is not None and waiter.result.action == Action.REQUEST_EXPIRED:
                raise RequestExpired(msg.action, read_answer(waiter.result, ExpiredBody).reason)
            return waiter.result
        finally:
            for answer in answers:
                self._waiters.pop(answer, None)

    async def put(self, data: bytes, trace: bytes | None = None, unique: bool = False) -> Name:
        """Store `data`; returns its name once the Primary copy is stored. With `unique`
        (Put<Unique>), DataExists if the network holds the chunk already (nothing is
        charged); two unique puts of the same new chunk at the same moment may both pass."""
        check_chunk_size(len(data))
        name = name_of(data)
        msg_id = self.new_id()
        msg = self._message(Authority(self.name, Persona.MAID_MANAGER, group=True), Action.PUT,
                            ClientPutBody(name, True if unique else None), msg_id,
                            trace or self.new_id(), payload=data)
        ok, failed = derived_id(Action.PUT_OK, msg_id), derived_id(Action.PUT_FAILURE, msg_id)
        answer = await self._request(msg, [ok, failed], self.params.accumulation_quorum)
        if answer is None:
            raise PutNoAnswer(f"put of {name.hex()[:16]}", self.timeout * ATTEMPTS, name,
                              "no answer")
        if answer.action != Action.PUT_OK:
            raise refused(read_answer(answer, PutRefusedBody), PutFailure, name)
        # a put_ok is believed only as the record it carries
        self.health = read_answer(answer, PutOkBody).health or []
        return name

    async def get(self, name: Name, trace: bytes | None = None) -> bytes:
        """Fetch a chunk: Primary first, then Backup, then Sacrificial."""
        _check_name(name)
        trace = trace or self.new_id()
        reason: str | None = None  # None while no holder answered
        for kind in CopyKind:
            msg_id = self.new_id()
            msg = self._message(Authority(copy_name(name, kind), Persona.DATA_MANAGER,
                                          group=True), Action.GET, EmptyBody(), msg_id, trace)
            answer = await self._request(msg, [derived_id(Action.GET_RESPONSE, msg_id)], 1)
            if answer is None:
                continue
            if answer.payload:
                return answer.payload
            reason = read_answer(answer, GetResponseBody).reason
        if reason is None:
            raise GetNoAnswer(f"get of {name.hex()[:16]}", self.timeout * ATTEMPTS, name,
                              "no answer")
        raise NoSuchData(name, reason)

    async def delete(self, name: Name, trace: bytes | None = None) -> bool:
        """Delete one put of `name` from this account; the network's copies go when no
        account holds the chunk any more. Succeeds also for a chunk this account does not hold
        (it changes nothing): returns whether the account held it. DeleteNoAnswer if nobody
        answered."""
        _check_name(name)
        msg_id = self.new_id()
        msg = self._message(Authority(self.name, Persona.MAID_MANAGER, group=True),
                            Action.DELETE, NameBody(name), msg_id, trace or self.new_id())
        answer = await self._request(msg, [derived_id(Action.DELETE_OK, msg_id)],
                                     self.params.accumulation_quorum)
        if answer is None:
            raise DeleteNoAnswer(f"delete of {name.hex()[:16]}", self.timeout * ATTEMPTS,
                                 name, "no answer")
        return read_answer(answer, DeleteOkBody).held

    async def put_version(self, key: Name, parent: VersionName | None, version: VersionName,
                          max_versions: int | None = None, max_branches: int | None = None,
                          trace: bytes | None = None, mode: TreeMode = TreeMode.PUBLIC,
                          owners: Iterable[Name] = ()) -> list[VersionName]:
        """Put `version` (whose chunk this client has put) under `parent` in the tree at `key`;
        `parent=None` creates the tree with the given limits, owned by this client, with
        `mode` (and, for a shared tree, the other `owners`). Returns the versions the put
        pushed out of the tree (the root, past the version limit). `trace` ties the
        operation's events together (a new one if not given)."""
        if not isinstance(mode, TreeMode):
            raise TypeError(f"mode must be a TreeMode, not {type(mode).__name__}")
        others = sorted({_owner(n) for n in owners} - {self.name})
        if others and mode is not TreeMode.SHARED:
            raise ValueError(f"a {mode.value} tree has one owner; name owners for a shared one")
        if len(others) + 1 > MAX_OWNERS:
            raise ValueError(f"a shared tree has at most {MAX_OWNERS} owners")
        body = ClientPutVersionBody(_key(key),
                                    None if parent is None else _version(parent, "parent"),
                                    _version(version, "version"), max_versions, max_branches,
                                    mode, others)
        answer = await self._version_request(key, Action.PUT_VERSION, body, Persona.MAID_MANAGER,
                                             self.params.accumulation_quorum, trace)
        return carried(answer.removed, Action.VERSION_ANSWER, "removed")

    async def get_versions(self, key: Name) -> list[VersionName]:
        """The tips of the tree at `key`, ascending."""
        answer = await self._version_request(key, Action.GET_VERSIONS, KeyBody(_key(key)),
                                             Persona.VERSION_MANAGER,
                                             self.params.accumulation_quorum)
        return carried(answer.versions, Action.VERSION_ANSWER, "versions")

    async def get_branch(self, key: Name, tip: VersionName) -> list[VersionName]:
        """The branch from `tip` back to the root (or the start of its orphan tree)."""
        answer = await self._version_request(key, Action.GET_BRANCH,
                                             BranchBody(_key(key), _version(tip, "tip")),
                                             Persona.VERSION_MANAGER,
                                             self.params.accumulation_quorum)
        return carried(answer.versions, Action.VERSION_ANSWER, "versions")

    async def delete_branch(self, key: Name, tip: VersionName,
                            trace: bytes | None = None) -> list[VersionName]:
        """Delete from `tip` back to its first fork; the removed versions' chunks are deleted
        through the normal flow where this client's account holds them (under the same
        `trace`). Returns the removed versions."""
        trace = trace or self.new_id()
        answer = await self._version_request(key, Action.DELETE_BRANCH,
                                             BranchBody(_key(key), _version(tip, "tip")),
                                             Persona.MAID_MANAGER,
                                             self.params.accumulation_quorum, trace)
        removed = carried(answer.removed, Action.VERSION_ANSWER, "removed")
        for version in removed:  # one put by another account is theirs: nothing happens to it
            await self.delete(version.id, trace=trace)
        return removed

    async def _version_request(self, key: Name, action: Action, body: Body,
                               to: Persona, quorum: int,
                               trace: bytes | None = None) -> VersionAnswerBody:
        answer = await self._keyed_request(key, action, body, to, Action.VERSION_ANSWER, quorum,
                                           trace)
        if answer is None:
            raise VersionNoAnswer(f"versions at {key.hex()[:16]}", self.timeout * ATTEMPTS,
                                  key, "no answer")
        result = read_answer(answer, VersionAnswerBody)
        if not result.ok:
            raise refused(result, VersionError, key)
        return result

    async def _keyed_request(self, key: Name, action: Action, body: Body, to: Persona,
                             answer: Action, quorum: int,
                             trace: bytes | None) -> Message | None:
        """Send a request about the item at `key` to our MaidManagers (a change, `to` is
        MAID_MANAGER) or to the item's own group (a read) and wait for `answer`."""
        msg_id = self.new_id()
        dst = (Authority(self.name, to, group=True) if to is Persona.MAID_MANAGER
               else Authority(key, to, group=True))
        msg = self._message(dst, action, body, msg_id, trace or self.new_id())
        return await self._request(msg, [derived_id(answer, msg_id)], quorum)

    # -- structured data (vaultnet.personas.structured_data) ------------------------------------

    async def put_structured(self, name: Name, data: bytes,
                             trace: bytes | None = None) -> StructuredRecord:
        """Create the owner-signed mutable record `name` holding `data`, at version 0, owned
        (and signed) by this client's key: a small value that changes in place under one
        name, where a chunk's name changes with its content. RecordExists if the name holds
        a record; RecordTooLarge over MAX_DATA_SIZE; AllowanceExceeded over this client's
        allowance. The record gets a fresh random nonce: signatures made for an earlier
        record at the name cannot update or delete this one. Returns the stored record."""
        record = self._signed_record(name, self.random_bytes(RECORD_NONCE_SIZE), 0, data)
        return await self._structured_request(name, Action.PUT_STRUCTURED,
                                              StructuredBody(record), Persona.MAID_MANAGER,
                                              trace)

    async def get_structured(self, name: Name) -> StructuredRecord:
        """The record at `name` as its VersionManagers hold it, believed only if its owner's
        signature verifies (InvalidSignature otherwise): anyone may read a record, so the
        signature, not the group, vouches for it. NoSuchRecord if there is none."""
        record = await self._structured_request(name, Action.GET_STRUCTURED,
                                                KeyBody(_record_name(name)),
                                                Persona.VERSION_MANAGER, None)
        if record.name != name or not record.signature_ok():
            raise InvalidSignature(name, "the record's owner signature does not verify")
        return record

    async def update_structured(self, name: Name, data: bytes, version: int | None = None,
                                trace: bytes | None = None) -> StructuredRecord:
        """Replace the data of the record `name` (which this client's key owns) with `data`
        as `version`, by default the current version plus one (the record is read first, for
        its nonce): the version counter lets the group refuse an update written against an
        older record (StaleVersion) instead of losing another writer's change. NotRecordOwner
        if another key owns it; AllowanceExceeded if the data grows past this client's
        allowance. Returns the stored record."""
        current = await self.get_structured(name)
        record = self._signed_record(name, current.nonce,
                                     current.version + 1 if version is None else version, data)
        return await self._structured_request(name, Action.UPDATE_STRUCTURED,
                                              StructuredBody(record), Persona.MAID_MANAGER,
                                              trace)

    async def delete_structured(self, name: Name, version: int | None = None,
                                trace: bytes | None = None) -> StructuredRecord:
        """Delete the record `name` at `version` (by default its current one; the record is
        read first, for its nonce), signed by this client's key, which must be its owner's
        (NotRecordOwner); a delete signed for an older version is StaleVersion, so it cannot
        remove a newer record. Returns the record as it was deleted (its data is refunded to
        the account that was charged it, when that is this client's)."""
        current = await self.get_structured(name)
        version = current.version if version is None else version
        _check_version(version)
        signature = self.identity.sign(delete_bytes(_record_name(name), current.nonce, version))
        return await self._structured_request(name, Action.DELETE_STRUCTURED,
                                              DeleteStructuredBody(name, version, signature),
                                              Persona.MAID_MANAGER, trace)

    def _signed_record(self, name: Name, nonce: bytes, version: int,
                       data: bytes) -> StructuredRecord:
        _record_name(name)
        _check_version(version)
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(data) > MAX_DATA_SIZE:
            raise RecordTooLarge(name, f"{len(data)} bytes of data are over the "
                                       f"{MAX_DATA_SIZE}-byte limit")
        return StructuredRecord(name, self.identity.verify_key, version, data, nonce,
                                self.identity.sign(signed_bytes(name, nonce, version, data)))

    async def _structured_request(self, name: Name, action: Action, body: Body, to: Persona,
                                  trace: bytes | None) -> StructuredRecord:
        answer = await self._keyed_request(name, action, body, to, Action.STRUCTURED_ANSWER,
                                           self.params.accumulation_quorum, trace)
        if answer is None:
            raise StructuredNoAnswer(f"structured data at {name.hex()[:16]}",
                                     self.timeout * ATTEMPTS, name, "no answer")
        result = read_answer(answer, StructuredAnswerBody)
        if not result.ok:
            raise refused(result, StructuredError, name, table=STRUCTURED_ERRORS)
        return carried(result.record, Action.STRUCTURED_ANSWER, "record")

    async def register_vault(self, vault: Identity, trace: bytes | None = None) -> int:
        """Register `vault` (a vault's identity: its PMID key signs the registration beside
        this client's MAID key) in this account, whose allowance is then the space its
        registered vaults offer. Returns the allowance as the managers answered: they answer
        once the vault's PmidManagers reported its space, so it counts (unless they did not
        within REGISTRATION_WAIT; the answer's reason then says so).
        InvalidRegistration, TooManyVaults, or VaultNoAnswer."""
        signed = registration_bytes(self.name, vault.name)
        body = RegisterVaultBody(self.identity.verify_key, vault.verify_key,
                                 self.identity.sign(signed), vault.sign(signed))
        return await self._vault_request(vault.name, Action.REGISTER_VAULT, body, trace)

    async def unregister_vault(self, vault: Name, trace: bytes | None = None) -> int:
        """Take the vault named `vault` out of this account (a vault it never registered
        changes nothing); returns the allowance left. VaultNoAnswer if nobody answered."""
        _check_name(vault)
        return await self._vault_request(vault, Action.UNREGISTER_VAULT, NameBody(vault), trace)

    async def _vault_request(self, vault: Name, action: Action, body: Body,
                             trace: bytes | None) -> int:
        msg_id = self.new_id()
        msg = self._message(Authority(self.name, Persona.MAID_MANAGER, group=True), action,
                            body, msg_id, trace or self.new_id())
        answer = await self._request(msg, [derived_id(Action.VAULT_ANSWER, msg_id)],
                                     self.params.accumulation_quorum)
        if answer is None:
            raise VaultNoAnswer(f"{action} of {vault.hex()[:16]}", self.timeout * ATTEMPTS,
                                vault, "no answer")
        result = read_answer(answer, VaultAnswerBody)
        if not result.ok:
            raise refused(result, VaultRefused, vault)
        return result.allowance

    async def aclose(self) -> None:
        """Close the connection to the bootstrap vault; the `run` loop then ends."""
        await self.conn.aclose()


def _version(value: object, what: str) -> VersionName:
    """`value` if it is a VersionName; a TypeError naming the type to build otherwise (a tuple
    looks right to a caller but has no wire form)."""
    if not isinstance(value, VersionName):
        raise TypeError(f"{what} must be a vaultnet.VersionName(index, id), not "
                        f"{type(value).__name__}")
    return value


def _sized_name(value: object, refused: str) -> bytes:
    """`value` if it is a 64-byte name; ClientError(`refused`) otherwise."""
    if not isinstance(value, bytes) or len(value) != NAME_SIZE:
        raise ClientError(refused)
    return value


def _key(key: object) -> bytes:
    return _sized_name(key, "a versioned item's key is 64 bytes (128 hex characters)")


def _record_name(name: object) -> bytes:
    return _sized_name(name, "a structured data record's name is 64 bytes (128 hex characters)")


def _check_version(version: object) -> None:
    if not is_version(version):
        raise ClientError(f"a record's version is an int in 0..{MAX_VERSION}")


def _owner(name: object) -> bytes:
    return _sized_name(name, "an owner is a client's 64-byte name (its .name)")


def _check_name(name: object) -> None:
    _sized_name(name, "a chunk name is 64 bytes (128 hex characters)")


def _holds_content(msg: Message) -> bool:
    """Whether the get_response `msg` carries the content of the copy it names: content that
    does not match, or whose body names no copy to check it against, is not believed (whoever
    sent it: a relay's cache answers gets too)."""
    try:
        copy = msg.typed(GetResponseBody).copy
    except FrameError:
        return False
    h = name_of(msg.payload)
    return any(chunk_name_of(copy, kind) == h for kind in CopyKind)


@overload
async def open_client(endpoint: Endpoint, bootstrap: list[str], nursery: trio.Nursery,
                      identity: Identity, params: Parameters | None = None,
                      rng: random.Random | None = None) -> MaidClient: ...


@overload
async def open_client(endpoint: Endpoint, bootstrap: list[str], nursery: trio.Nursery,
                      identity: Identity, params: Parameters | None = None,
                      rng: random.Random | None = None, *,
                      client_class: type[ClientT]) -> ClientT: ...


async def open_client(endpoint: Endpoint, bootstrap: list[str], nursery: trio.Nursery,
                      identity: Identity, params: Parameters | None = None,
                      rng: random.Random | None = None,
                      client_class: type[MaidClient] = MaidClient) -> MaidClient:
    """Connect through the first reachable bootstrap vault; the client's reader runs in
    `nursery`."""
    errors = []
    for address in bootstrap:
        try:
            conn = await endpoint.connect(address)
        except TransportError as exc:
            errors.append(str(exc))
            continue
        client = client_class(identity, conn, params, rng)
        nursery.start_soon(client.run)
        return client
    raise NetworkUnavailable("; ".join(errors) or "no bootstrap address given")
