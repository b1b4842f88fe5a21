"""MaidManager: the client's account and the gate for every put and delete (docs/origins.md).

Group: the vaults closest to the client's MAID name. Record per client: bytes used, allowance,
the vaults it registered and how many times it put each chunk. A put it allows becomes three
puts — Primary, Backup and Sacrificial — to the DataManager groups of the three copy names.
Only the Primary's outcome is reported to the client: a refused Backup or Sacrificial does not
fail the put (docs/origins.md: the put workflow).

A client registers its vaults (PmidNodes) with a registration its MAID key and the vault's PMID
key both signed; its allowance is then the space its registered vaults offer, as their
PmidManagers report it when asked (GetPMIDHealth): at registration, and whenever a put is
refused for the allowance (the client is low on resources). A client that registered no vault
has DEFAULT_ALLOWANCE. Churn needs no new question: the account, with the health last reported,
moves to newcomers with the account transfer. The answer to a registration waits for the
vault's health (agreed, `commit_health`, or found unchanged), so it carries the allowance with
the vault's offered space; each member holds it at most `REGISTRATION_WAIT` (then answers with
the allowance it has, saying the vault's space is not known yet: `HEALTH_UNKNOWN`) and holds at
most `REGISTRATIONS_WAITING` (past it the oldest is answered so at once). The held answer is
member-local: a newcomer that did not hold it lets the others answer; the client's retry while
it is held is answered "synchronising" by the firewall, and after it the recorded answer.

It is also the gate of a client's structured data requests (`structured_data.py`): it refuses a
record over the size limit, whose signature does not verify, or whose data would take the
account past its allowance (`ErrorCode.ALLOWANCE_EXCEEDED`, "allowance exceeded", asking the
registered vaults' health as a refused chunk put does), and forwards the rest to the
VersionManagers of the record's name, passing their answer on and recording it (Uf).

Records are charged on success. The client that sends a put or update pays for it (its
MaidManagers' account; the owner key may be another's): a table beside the chunk counts
(`RECORD_CHARGES`, key client + record name, moved with churn) holds the size each record was
last stored at for this client. A put or update is let through if its growth over that size
fits the allowance; when the VersionManagers' answer says it was stored (or deleted) the group
agrees on `MaidRecordCharge`, which sets the record's charge to its new size (0: deleted) and
moves `used` by the difference: growth charged, shrinking and deleting refunded. Refused
requests (DataExists, NotOwner, StaleVersion, ...) are never charged, so there is nothing to
refund; setting a size instead of adding one makes a repeat of the same answer (a retry, a
resent vote, a newcomer's transferred account) change nothing. Bounds: requests in flight
together may overshoot the allowance, as chunk puts in flight do; a record another client
deleted or rewrote stays charged to the client that wrote it until it writes or deletes that
name again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from vaultnet.identity import IdentityError, name_of_key, verify
from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import (
    MaidDelete,
    MaidHealth,
    MaidPut,
    MaidRecordCharge,
    MaidRegister,
    MaidUnregister,
)
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    MAX_VAULTS,
    Body,
    BranchBody,
    ClientPutBody,
    ClientPutVersionBody,
    CopyPutBody,
    DeleteBranchBody,
    DeleteOkBody,
    DeleteStructuredBody,
    DeleteStructuredRequestBody,
    EmptyBody,
    ExistsAnswerBody,
    ExistsBody,
    KindBody,
    NameBody,
    PmidHealthBody,
    PutOkBody,
    PutRefusedBody,
    PutResponseBody,
    PutVersionBody,
    RegisterVaultBody,
    StructuredAnswerBody,
    StructuredBody,
    StructuredRequestBody,
    VaultAnswerBody,
    VersionAnswerBody,
    VersionResultBody,
    registration_bytes,
)
from vaultnet.personas.context import Context
from vaultnet.personas.copy_puts import UnconfirmedPuts
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.payload_wanted import WAITING_LIMIT
from vaultnet.personas.records import ChunkPuts, MaidAccount, RecordCharge, VaultHealth
from vaultnet.personas.structured_data import MAX_DATA_SIZE, structured_store
from vaultnet.protocol import Action, ErrorCode, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.wire import MAX_CHUNK_SIZE, FrameError
from vaultnet.xor import Name

DEFAULT_ALLOWANCE = 1 << 40
"""The allowance of a client that registered no vault (1 TiB: the quick start needs none)."""
TOO_MANY_VAULTS = f"at most {MAX_VAULTS} vaults per client"
"""Why a registration past MAX_VAULTS is refused (with ErrorCode.TOO_MANY_VAULTS)."""
HEALTH_INTERVAL = 60.0
"""A client refused for its allowance has its vaults' health asked at most once per this many
seconds (the question's id is the same within one interval at every member, so the
PmidManagers' accumulator answers repeats once)."""
ALLOWANCE_EXCEEDED = "allowance exceeded"
"""Why a chunk put or a record's put or update over the client's allowance is refused."""
RECORD_CHARGES = "maid_records"
"""The table of what each client is charged per structured data record, beside the chunk
counts."""
REGISTRATION_WAIT = 10.0
"""Seconds a member holds a registration's answer for the vault's health: its PmidManagers
answer within a round trip, and the client's first attempt waits REQUEST_TIMEOUT (15 s)."""
REGISTRATIONS_WAITING = 1_000
"""Registration answers one member holds for their vault's health at most (about 200 bytes
each); past it the oldest is answered at once, as at its deadline."""
HEALTH_UNKNOWN = ("the vault's offered space is not known yet: the allowance counts it once "
                  "its PmidManagers answer")
"""What a registration's answer says when its vault's health did not come in time."""


DATA_EXISTS = ErrorCode.DATA_EXISTS
"""The error a Put<Unique> of a chunk that exists is refused with."""


@dataclass(frozen=True)
class _HeldRegistration:
    """A registration agreed here whose answer waits for its vault's health."""

    client: bytes
    node: Name
    reply: Authority
    trace: bytes
    deadline: float


@dataclass(frozen=True)
class _UniquePut:
    """A Put<Unique> waiting for the Primary's DataManagers to say whether the chunk exists
    (its content waits in the stash)."""

    msg: Message
    name: bytes
    size: int


class MaidManager(GroupPersona):
    """The client's account: allowance, bytes used, how often it put each chunk."""

    persona = Persona.MAID_MANAGER
    needs_payload = frozenset({Action.PUT})
    resendable = frozenset({Action.PUT})

    def __init__(self, params: Parameters, accounts: Records, chunks: Records,
                 allowance: int = DEFAULT_ALLOWANCE) -> None:
        super().__init__(params)
        self.accounts = accounts
        self.chunks = chunks
        self.allowance = allowance
        self.record_charges = structured_store(chunks, RECORD_CHARGES)
        self._unique: OrderedDict[bytes, _UniquePut] = OrderedDict()
        self._held: OrderedDict[bytes, _HeldRegistration] = OrderedDict()
        self.unconfirmed = UnconfirmedPuts(
            settled=lambda chunk: self.stash.release(b"chunk" + chunk))

    def transfer_stores(self) -> list[Records]:
        """Accounts, per-chunk put counts and per-record charges move with churn."""
        return [self.accounts, self.chunks, self.record_charges]

    def account(self, client: bytes) -> dict[str, Any]:
        """`client`'s account as stored (a fresh one with the default allowance if none)."""
        return self.account_of(client).to_record()

    def account_of(self, client: bytes) -> MaidAccount:
        """`client`'s account (a fresh one with the default allowance if none)."""
        raw = self.accounts.get(client)
        return MaidAccount.from_record(raw) if raw else MaidAccount(0, self.allowance)

    def puts_of(self, client: bytes, name: bytes) -> ChunkPuts | None:
        """How many times `client` put chunk `name` (None: not in its account)."""
        raw = self.chunks.get(client + name)
        return ChunkPuts.from_record(raw) if raw else None

    def charged_for(self, client: bytes, name: bytes) -> int:
        """What `client`'s account is charged for the structured data record `name` (0: none)."""
        raw = self.record_charges.get(client + name)
        return RecordCharge.from_record(raw).size if raw else 0

    def held_registrations(self) -> int:
        """Registration answers waiting for their vault's health (a bounded table; see
        docs/budgets.md)."""
        return len(self._held)

    def _reply(self, msg: Message, action: Action, body: Body, out: Outbox) -> Message:
        reply = self.group_message(msg.src.name, msg.src.name, action, body, msg.trace_id,
                                   new_id(action, msg.msg_id), dst_persona=Persona.MAID_NODE,
                                   dst_group=False, relay=msg.src.relay)
        out.send(reply)
        return reply

    # -- client requests ------------------------------------------------------------------

    def wanted_content(self, body: dict[str, Any]) -> bytes | None:
        """A resent put's chunk, if it is still in the stash."""
        name = body.get("name")
        return self.stash.get(b"chunk" + name) if isinstance(name, bytes) else None

    @handles(Action.PUT)
    def on_put(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A client's put: refuse it over the size limit or the allowance, otherwise propose
        charging it (a Put<Unique> asks the Primary's DataManagers first)."""
        client = msg.src.name
        put = msg.typed(ClientPutBody)
        name = put.name
        size = len(payload)
        if size > MAX_CHUNK_SIZE:
            # The client library never sends one; a hand-made client must not get a chunk past
            # the limit every other part of the network (the wire frame, gets) is sized for.
            self._refuse_put(msg, name, f"chunk of {size} bytes is over the "
                             f"{MAX_CHUNK_SIZE}-byte limit", out, ctx)
            return
        account = self.account_of(client)
        if account.used + size > account.allowance:
            self._refuse_put(msg, name, ALLOWANCE_EXCEEDED, out, ctx)
            self._short_of_allowance(client, account, msg.trace_id, ctx, out)
            return
        self.stash.put(b"chunk" + name, payload)
        if put.unique is True:
            self._ask_exists(msg, name, size, ctx, out)
            return
        self._propose_put(msg, name, size, ctx, out)

    def _short_of_allowance(self, client: bytes, account: MaidAccount, trace: bytes,
                            ctx: Context, out: Outbox) -> None:
        """The client is low on resources: ask its vaults whether they offer more now (once
        per HEALTH_INTERVAL)."""
        bucket = str(int(ctx.now() // HEALTH_INTERVAL))
        for vault in account.vaults:
            self._ask_health(client, vault.node, new_id("mm-health", client, bucket), trace, out)

    def _propose_put(self, msg: Message, name: bytes, size: int, ctx: Context,
                     out: Outbox) -> None:
        self.propose(msg.src.name, MaidPut(name, size, msg.msg_id, msg.src), ctx, out,
                     msg.trace_id)

    def _ask_exists(self, msg: Message, name: bytes, size: int, ctx: Context,
                    out: Outbox) -> None:
        """Put<Unique>: ask the Primary's DataManagers whether the chunk exists before
        anything is charged or stored (`on_exists_answer` goes on)."""
        self._unique[msg.msg_id] = _UniquePut(replace(msg, payload=b""), name, size)
        while len(self._unique) > WAITING_LIMIT:
            self._unique.popitem(last=False)
        out.send(self.group_message(msg.src.name, copy_name(name, CopyKind.PRIMARY),
                                    Action.EXISTS,
                                    ExistsBody(msg.msg_id), msg.trace_id,
                                    new_id("mm-exists", msg.msg_id),
                                    dst_persona=Persona.DATA_MANAGER))

    @handles(Action.EXISTS_ANSWER)
    def on_exists_answer(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The Primary's DataManagers answered a Put<Unique>'s question: refuse it if the
        chunk exists, otherwise put it as usual."""
        if msg.src.persona is not Persona.DATA_MANAGER:
            raise FrameError("an exists answer comes from DataManagers")
        answer = msg.typed(ExistsAnswerBody)
        pending = self._unique.get(answer.id)
        if pending is None or pending.msg.src.name != msg.dst.name:
            return
        del self._unique[pending.msg.msg_id]
        if answer.exists:
            self.stash.release(b"chunk" + pending.name)
            self._record_reply(pending.msg, self._reply(pending.msg, Action.PUT_FAILURE,
                                                        PutRefusedBody(pending.name,
                                                                       "the data already exists",
                                                                       DATA_EXISTS), out), ctx)
            return
        self._propose_put(pending.msg, pending.name, pending.size, ctx, out)

    def _refuse_put(self, msg: Message, name: bytes, reason: str, out: Outbox,
                    ctx: Context) -> None:
        self._record_reply(msg, self._reply(msg, Action.PUT_FAILURE,
                                            PutRefusedBody(name, reason), out), ctx)

    @handles(Action.DELETE)
    def on_delete(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A delete always succeeds (docs/origins.md): for a chunk this account does not hold it
        changes nothing (someone else's copy of the chunk is theirs) and is answered at once."""
        client = msg.src.name
        name = msg.typed(NameBody).name
        if not self.chunks.get(client + name):
            self._record_reply(msg, self._reply(msg, Action.DELETE_OK,
                                                DeleteOkBody(name, False), out), ctx)
            return
        self.propose(client, MaidDelete(name, msg.msg_id, msg.src), ctx, out, msg.trace_id)

    @handles(Action.PUT_VERSION)
    def on_put_version(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Account check, then on to the item's VersionManagers: the version's chunk must be
        stored in this client's account (put through the normal flow first)."""
        put = msg.typed(ClientPutVersionBody)
        if not self.chunks.get(msg.src.name + put.version.id):
            self._refuse_version(msg, "the version's chunk is not stored in your account", out,
                                 ctx)
            return
        self._forward_version(msg, put.key, Action.PUT_VERSION, PutVersionBody(
            put.parent, put.version, put.max_versions, put.max_branches, put.mode, put.owners,
            msg.msg_id, msg.src), out)

    @handles(Action.DELETE_BRANCH)
    def on_delete_branch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A client's branch delete: on to the item's VersionManagers if it has an account."""
        if msg.src.name not in self.accounts:
            self._refuse_version(msg, "no account: put a chunk first", out, ctx)
            return
        branch = msg.typed(BranchBody)
        self._forward_version(msg, branch.key, Action.DELETE_BRANCH,
                              DeleteBranchBody(branch.tip, msg.msg_id, msg.src), out)

    def _forward_version(self, msg: Message, key: bytes, action: Action, body: Body,
                         out: Outbox) -> None:
        out.send(self.group_message(msg.src.name, key, action, body,
                                    msg.trace_id, new_id("mm-" + action, msg.msg_id),
                                    dst_persona=Persona.VERSION_MANAGER))

    @handles(Action.VERSION_RESULT)
    def on_version_result(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """The VersionManagers' answer to a version request we forwarded: on to the client,
        and into the firewall (Uf) so the client's retry gets it too."""
        self._pass_result(msg, Action.VERSION_ANSWER, ctx, out)

    @handles(Action.STRUCTURED_RESULT)
    def on_structured_result(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """The VersionManagers' answer to a structured data request we forwarded: on to the
        client, and into the firewall (Uf) so the client's retry gets it too; a record they
        stored or deleted has its charge agreed (`commit_record_charge`)."""
        result = self._pass_result(msg, Action.STRUCTURED_ANSWER, ctx, out)
        answer = StructuredAnswerBody.from_map(result.answer)
        record = answer.record
        if not answer.ok or record is None:
            return
        if record.name != msg.src.name:
            raise FrameError("a structured result comes from the group of its record's name")
        size = 0 if answer.deleted else len(record.data)
        self.propose(msg.dst.name, MaidRecordCharge(record.name, size, result.id), ctx, out,
                     msg.trace_id)

    def _pass_result(self, msg: Message, answer: Action, ctx: Context,
                     out: Outbox) -> VersionResultBody:
        if msg.src.persona is not Persona.VERSION_MANAGER:
            raise FrameError(f"a {msg.action} comes from VersionManagers")
        result = msg.typed(VersionResultBody)
        client, request, reply_to = msg.dst.name, result.id, result.reply
        if reply_to.name != client:
            raise FrameError(f"{msg.action} for another client")
        reply = self.group_message(client, client, answer, result.answer, msg.trace_id,
                                   new_id(answer, request),
                                   dst_persona=Persona.MAID_NODE, dst_group=False,
                                   relay=reply_to.relay)
        out.send(reply)
        self.firewall.update(client + request, reply, ctx.now())
        return result

    # -- structured data (structured_data.py) -----------------------------------------------

    @handles(Action.PUT_STRUCTURED)
    def on_put_structured(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A client's put of a record: refused here over the size limit, with a signature
        that does not verify or over the allowance, otherwise on to the VersionManagers of its
        name."""
        self._forward_structured(msg, ctx, out)

    @handles(Action.UPDATE_STRUCTURED)
    def on_update_structured(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """A client's update of a record: checked like a put, then on to the VersionManagers
        of its name, which check the owner and the version."""
        self._forward_structured(msg, ctx, out)

    def _forward_structured(self, msg: Message, ctx: Context, out: Outbox) -> None:
        record = msg.typed(StructuredBody).record
        client = msg.src.name
        account = self.account_of(client)
        growth = len(record.data) - self.charged_for(client, record.name)
        if len(record.data) > MAX_DATA_SIZE:
            self._refuse_structured(msg, ErrorCode.DATA_TOO_LARGE,
                                    f"{len(record.data)} bytes of data are over the "
                                    f"{MAX_DATA_SIZE}-byte limit", out, ctx)
        elif not record.signature_ok():
            self._refuse_structured(msg, ErrorCode.INVALID_SIGNATURE,
                                    "the record's signature does not verify with its owner "
                                    "key", out, ctx)
        elif growth > 0 and account.used + growth > account.allowance:
            self._refuse_structured(msg, ErrorCode.ALLOWANCE_EXCEEDED, ALLOWANCE_EXCEEDED, out,
                                    ctx)
            self._short_of_allowance(client, account, msg.trace_id, ctx, out)
        else:
            self._forward_version(msg, record.name, msg.action,
                                  StructuredRequestBody(record, msg.msg_id, msg.src), out)

    @handles(Action.DELETE_STRUCTURED)
    def on_delete_structured(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """A client's delete of a record: on to the VersionManagers of its name, which check
        the owner's signature against the record they hold."""
        delete = msg.typed(DeleteStructuredBody)
        self._forward_version(msg, delete.name, Action.DELETE_STRUCTURED,
                              DeleteStructuredRequestBody(delete.version, delete.signature,
                                                          msg.msg_id, msg.src), out)

    def _refuse_structured(self, msg: Message, error: ErrorCode, reason: str, out: Outbox,
                           ctx: Context) -> None:
        self._record_reply(msg, self._reply(msg, Action.STRUCTURED_ANSWER,
                                            StructuredAnswerBody(False, error, reason), out),
                           ctx)

    def _refuse_version(self, msg: Message, reason: str, out: Outbox, ctx: Context) -> None:
        self._record_reply(msg, self._reply(msg, Action.VERSION_ANSWER, VersionAnswerBody(
            False, ErrorCode.ACCOUNT_REFUSED, reason), out), ctx)

    def _record_reply(self, msg: Message, reply: Message, ctx: Context) -> None:
        self.firewall.update(msg.sender + msg.msg_id, reply, ctx.now())

    # -- agreed actions -------------------------------------------------------------------

    @commits(MaidPut)
    def commit_put(self, client: bytes, action: MaidPut, ctx: Context, out: Outbox,
                   trace: bytes) -> None:
        """The group agreed on a put: charge the account and send the Primary, Backup and
        Sacrificial puts to their DataManagers (the lead attaches the content)."""
        name, size = action.name, action.size
        account = self.account_of(client)
        self.accounts.put(client, replace(account, used=account.used + size).to_record())
        entry = self.puts_of(client, name) or ChunkPuts(0, size)
        self.chunks.put(client + name, replace(entry, count=entry.count + 1).to_record())
        payload = self.stash.get(b"chunk" + name) or b""
        lead = self.is_lead(client, ctx)
        puts = [self.group_message(
            client, copy_name(name, kind), Action.PUT,
            CopyPutBody(name, kind, size, client, action.id, action.reply),
            trace, _copy_put_id(action.id, kind), dst_persona=Persona.DATA_MANAGER)
            for kind in CopyKind]
        for put in puts:
            out.send(replace(put, payload=payload) if lead else put)
        # The content stays in the stash until every copy is confirmed (then released).
        self.unconfirmed.expect(action.id, puts, name, ctx.now())

    @commits(MaidDelete)
    def commit_delete(self, client: bytes, action: MaidDelete, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """The group agreed on a delete: uncount one put, refund it, tell the copies'
        DataManagers, and answer the client (recorded in the firewall for its retry)."""
        name = action.name
        entry = self._uncount(client, name)
        if entry is not None:
            self._refund(client, entry.size)
            for kind in CopyKind:
                out.send(self.group_message(client, copy_name(name, kind), Action.DELETE,
                                            KindBody(kind), trace,
                                            new_id("mm-del", action.id, kind.value),
                                            dst_persona=Persona.DATA_MANAGER))
        reply = self.group_message(client, client, Action.DELETE_OK,
                                   DeleteOkBody(name, entry is not None), trace,
                                   new_id("delete_ok", action.id),
                                   dst_persona=Persona.MAID_NODE, dst_group=False,
                                   relay=action.reply.relay)
        out.send(reply)
        self.firewall.update(client + action.id, reply, ctx.now())

    def _uncount(self, client: bytes, name: bytes) -> ChunkPuts | None:
        """One put of `name` less in `client`'s account; the entry as it was, if any."""
        entry = self.puts_of(client, name)
        if entry is None:
            return None
        if entry.count <= 1:
            self.chunks.delete(client + name)
        else:
            self.chunks.put(client + name, replace(entry, count=entry.count - 1).to_record())
        return entry

    def _refund(self, client: bytes, size: int) -> None:
        account = self.account_of(client)
        self.accounts.put(client, replace(account, used=max(0, account.used - size)).to_record())

    @commits(MaidRecordCharge)
    def commit_record_charge(self, client: bytes, action: MaidRecordCharge, ctx: Context,
                             out: Outbox, trace: bytes) -> None:
        """Agreed: the client's record is charged its new size in place of the old one (growth
        charged, shrinking or a delete refunded); it sets the charge rather than adding to
        it, so the same answer agreed again changes nothing."""
        key = client + action.name
        old = self.charged_for(client, action.name)
        account = self.account_of(client)
        self.accounts.put(client, replace(
            account, used=max(0, account.used + action.size - old)).to_record())
        if action.size:
            self.record_charges.put(key, RecordCharge(action.size).to_record())
        else:
            self.record_charges.delete(key)

    # -- outcome from the copies' DataManagers ---------------------------------------------

    def resend(self, ctx: Context) -> Outbox:
        """Besides re-sending sync votes, send again the copy puts their DataManagers have not
        confirmed, with the chunk if we still have it (`vaultnet.personas.copy_puts`), and
        answer the registrations held past REGISTRATION_WAIT."""
        out = super().resend(ctx)
        for put, chunk in self.unconfirmed.due(ctx.now()):
            content = self.stash.get(b"chunk" + chunk)
            out.note(EventKind.COPY_PUT_RESENT, put.dst.name, put.trace_id,
                     client=put.src.name)
            out.send(replace(put, payload=content) if content else put)
        # Held registrations past their deadline (held in the order their deadlines fall).
        while self._held and next(iter(self._held.values())).deadline <= ctx.now():
            self._answer_held(next(iter(self._held)), HEALTH_UNKNOWN, ctx, out)
        return out

    @handles(Action.PUT_RESPONSE)
    def on_put_response(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A copy's DataManagers confirm its put; the Primary's also say how the put ended:
        answer the client (and record it for its retry); a failed put is uncounted and
        refunded in full."""
        response = msg.typed(PutResponseBody)
        kind = next((k for k in CopyKind if copy_name(response.name, k) == msg.src.name), None)
        if kind is None or msg.src.persona is not Persona.DATA_MANAGER:
            raise FrameError("a put response comes from the DataManagers of one of its copies")
        self.unconfirmed.confirm(_copy_put_id(response.id, kind))
        if kind is not CopyKind.PRIMARY:
            return
        client, name, reply_to, ok = response.client, response.name, response.reply, response.ok
        action = Action.PUT_OK if ok else Action.PUT_FAILURE
        health = list(self.account_of(client).vaults) or None
        body = PutOkBody(name, health) if ok else PutRefusedBody(name, response.reason)
        original = response.id
        reply = self.group_message(client, client, action, body, msg.trace_id,
                                   new_id(action, original), dst_persona=Persona.MAID_NODE,
                                   dst_group=False, relay=reply_to.relay)
        out.send(reply)
        self.firewall.update(client + original, reply, ctx.now())
        if not ok:
            # Undone in full: a later delete of the chunk must not refund it a second time.
            self._uncount(client, name)
            self._refund(client, response.size)

    # -- registered vaults --------------------------------------------------------------------

    @handles(Action.REGISTER_VAULT)
    def on_register_vault(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A client registers a vault: refuse a registration its MAID key and the vault's PMID
        key did not both sign, or one past MAX_VAULTS; otherwise propose it."""
        client = msg.src.name
        body = msg.typed(RegisterVaultBody)
        node = name_of_key(body.pmid_key)
        signed = registration_bytes(client, node)
        try:
            if name_of_key(body.maid_key) != client:
                raise IdentityError("the MAID key is not the client's")
            verify(body.maid_key, body.maid_signature, signed)
            verify(body.pmid_key, body.pmid_signature, signed)
        except IdentityError as exc:
            self._vault_answer(msg, self.account_of(client), ErrorCode.INVALID_REGISTRATION,
                               f"registration refused: {exc}", out, ctx)
            return
        account = self.account_of(client)
        if account.vault(node) is None and len(account.vaults) >= MAX_VAULTS:
            self._vault_answer(msg, account, ErrorCode.TOO_MANY_VAULTS, TOO_MANY_VAULTS, out,
                               ctx)
            return
        self.propose(client, MaidRegister(node, msg.msg_id, msg.src), ctx, out, msg.trace_id)

    @handles(Action.UNREGISTER_VAULT)
    def on_unregister_vault(self, msg: Message, payload: bytes, ctx: Context,
                            out: Outbox) -> None:
        """A client unregisters one of its vaults (its own signed request is enough: it only
        lowers its allowance); a vault it never registered changes nothing, answered at once."""
        node = msg.typed(NameBody).name
        account = self.account_of(msg.src.name)
        if account.vault(node) is None:
            self._vault_answer(msg, account, None, None, out, ctx)
            return
        self.propose(msg.src.name, MaidUnregister(node, msg.msg_id, msg.src), ctx, out,
                     msg.trace_id)

    def _vault_answer(self, msg: Message, account: MaidAccount, error: ErrorCode | None,
                      reason: str | None, out: Outbox, ctx: Context) -> None:
        self._record_reply(msg, self._reply(msg, Action.VAULT_ANSWER, VaultAnswerBody(
            error is None, account.allowance, error, reason), out), ctx)

    @commits(MaidRegister)
    def commit_register(self, client: bytes, action: MaidRegister, ctx: Context, out: Outbox,
                        trace: bytes) -> None:
        """Agreed: keep the vault in the account (its allowance follows the space it offers,
        nothing until its PmidManagers answer), ask them its health (again, for a vault
        registered already: registering again refreshes it) and hold the client's answer until
        it is known (`_answer_held`), or answer a refusal at once."""
        account = self.account_of(client)
        if account.vault(action.node) is None and len(account.vaults) >= MAX_VAULTS:
            self._answer_agreed(client, action.id, action.reply, account,
                                ErrorCode.TOO_MANY_VAULTS, TOO_MANY_VAULTS, trace, out, ctx)
            return
        if account.vault(action.node) is None:
            self._keep_vaults(client, account, (*account.vaults, VaultHealth(action.node)))
        self._held[action.id] = _HeldRegistration(client, action.node, action.reply, trace,
                                                   ctx.now() + REGISTRATION_WAIT)
        while len(self._held) > REGISTRATIONS_WAITING:
            self._answer_held(next(iter(self._held)), HEALTH_UNKNOWN, ctx, out)
        self._ask_health(client, action.node, new_id("mm-health", action.id), trace, out)

    @commits(MaidUnregister)
    def commit_unregister(self, client: bytes, action: MaidUnregister, ctx: Context,
                          out: Outbox, trace: bytes) -> None:
        """Agreed: drop the vault from the account (the allowance loses its space) and answer
        the client."""
        account = self.account_of(client)
        account = self._keep_vaults(client, account, tuple(
            v for v in account.vaults if v.node != action.node))
        self._answer_agreed(client, action.id, action.reply, account, None, None, trace, out,
                            ctx)

    def _answer_agreed(self, client: bytes, request: bytes, reply_to: Authority,
                       account: MaidAccount, error: ErrorCode | None, reason: str | None,
                       trace: bytes, out: Outbox, ctx: Context) -> None:
        """Answer an agreed (un)registration, recorded in the firewall for the client's retry."""
        reply = self.group_message(client, client, Action.VAULT_ANSWER, VaultAnswerBody(
            error is None, account.allowance, error, reason),
            trace, new_id(Action.VAULT_ANSWER, request), dst_persona=Persona.MAID_NODE,
            dst_group=False, relay=reply_to.relay)
        out.send(reply)
        self.firewall.update(client + request, reply, ctx.now())

    def _answer_held(self, request: bytes, reason: str | None, ctx: Context,
                     out: Outbox) -> None:
        """Answer the held registration `request` with the account as it is now (`reason`:
        why its vault's space may not count yet)."""
        held = self._held.pop(request)
        self._answer_agreed(held.client, request, held.reply, self.account_of(held.client),
                            None, reason, held.trace, out, ctx)

    def _health_known(self, client: bytes, node: Name, ctx: Context, out: Outbox) -> None:
        """The health of `client`'s vault `node` is agreed: answer its held registrations."""
        for request in [r for r, h in self._held.items()
                        if h.client == client and h.node == node]:
            self._answer_held(request, None, ctx, out)

    def _keep_vaults(self, client: bytes, account: MaidAccount,
                     vaults: tuple[VaultHealth, ...]) -> MaidAccount:
        """Store `account` with `vaults`: the allowance is the space they offer (the default
        with none)."""
        allowance = sum(v.available for v in vaults) if vaults else self.allowance
        account = replace(account, allowance=allowance, vaults=vaults)
        self.accounts.put(client, account.to_record())
        return account

    def _ask_health(self, client: bytes, node: Name, msg_id: bytes, trace: bytes,
                    out: Outbox) -> None:
        """GetPMIDHealth: ask the node's PmidManagers for its stored, lost and offered space."""
        out.send(self.group_message(client, node, Action.GET_PMID_HEALTH, EmptyBody(), trace,
                                    new_id(msg_id, node), dst_persona=Persona.PMID_MANAGER))

    @handles(Action.PMID_HEALTH)
    def on_pmid_health(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A registered vault's PmidManagers answer GetPMIDHealth: propose keeping it, or, if
        the account already holds that health, answer the registrations held for it (an answer
        about a vault the client does not have registered is ignored)."""
        health = msg.typed(PmidHealthBody)
        if msg.src.persona is not Persona.PMID_MANAGER or health.node != msg.src.name:
            raise FrameError("a vault's health comes from its PmidManagers")
        client = msg.dst.name
        kept = self.account_of(client).vault(health.node)
        fresh = VaultHealth(health.node, health.stored, health.lost, health.available)
        if kept is None:
            return
        if kept == fresh:
            self._health_known(client, health.node, ctx, out)
        else:
            self.propose(client, MaidHealth(health.node, health.stored, health.lost,
                                            health.available, msg.msg_id),
                         ctx, out, msg.trace_id)

    @commits(MaidHealth)
    def commit_health(self, client: bytes, action: MaidHealth, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """Agreed: keep the vault's health (the allowance follows the space it offers) and
        answer the registrations held for it."""
        account = self.account_of(client)
        fresh = VaultHealth(action.node, action.stored, action.lost, action.available)
        self._keep_vaults(client, account, tuple(
            fresh if v.node == action.node else v for v in account.vaults))
        self._health_known(client, action.node, ctx, out)


def _copy_put_id(put_id: bytes, kind: CopyKind) -> bytes:
    """The id of the MaidManagers' put of one copy for the client's put `put_id`: the same
    at every member, and again when the put is re-sent."""
    return new_id("mm-put", put_id, kind.value)
