"""The VersionManager's structured data: the handlers and commits of owner-signed mutable records
(the rules are in `vaultnet.personas.structured_data`), and the two ways a VersionManager
answers, shared with its version trees: an agreed answer through the client's MaidManagers, a
read answered straight to the client."""

from __future__ import annotations

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import DeleteStructured, PutStructured, UpdateStructured
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    Body,
    DeleteStructuredRequestBody,
    StructuredAnswerBody,
    StructuredRequestBody,
    VersionResultBody,
)
from vaultnet.personas.context import Context
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.structured_data import StructuredRecord, delete_bytes, verifies
from vaultnet.protocol import Action, ErrorCode, EventKind
from vaultnet.storage.records import Records
from vaultnet.wire import FrameError

NO_RECORD = StructuredAnswerBody(False, ErrorCode.NO_SUCH_ELEMENT,
                                 "no structured data record at this name")
RECORD_EXISTS = StructuredAnswerBody(False, ErrorCode.DATA_EXISTS,
                                     "a structured data record exists at this name")
WRONG_OWNER = StructuredAnswerBody(False, ErrorCode.NOT_OWNER,
                                   "not signed by the record's owner")
EARLIER_RECORD = StructuredAnswerBody(False, ErrorCode.STALE_VERSION,
                                      "signed for an earlier record at this name (deleted and "
                                      "put again since)")


def stale(stored: int, asked: int, want: int) -> StructuredAnswerBody:
    """The refusal of a request for version `asked` where the stored record, at `stored`,
    takes only `want`."""
    return StructuredAnswerBody(False, ErrorCode.STALE_VERSION,
                                f"the record is at version {stored}: version {asked} is not "
                                f"{want}")


class StructuredDataKeeper(GroupPersona):
    """Owner-signed mutable records, one per name, in `structured` (moved with churn)."""

    structured: Records

    def record(self, name: bytes) -> StructuredRecord | None:
        """The record stored at `name`, if any (FrameError for a malformed stored one)."""
        raw = self.structured.get(name)
        return None if raw is None else StructuredRecord.from_record(raw)

    # -- mutations, from the MaidManager group -------------------------------------------------

    @handles(Action.PUT_STRUCTURED)
    def on_put_structured(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """The client's MaidManagers forward a put (size and signature checked): propose it."""
        put = self._forwarded(msg)
        self.propose(msg.dst.name, PutStructured(put.record, put.id, put.reply), ctx, out,
                     msg.trace_id)

    @handles(Action.UPDATE_STRUCTURED)
    def on_update_structured(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """The client's MaidManagers forward an update (size and signature checked): propose
        it."""
        update = self._forwarded(msg)
        self.propose(msg.dst.name, UpdateStructured(update.record, update.id, update.reply),
                     ctx, out, msg.trace_id)

    def _forwarded(self, msg: Message) -> StructuredRequestBody:
        body = msg.typed(StructuredRequestBody)
        if body.record.name != msg.dst.name:
            raise FrameError("a structured data record goes to the group of its own name")
        return body

    @handles(Action.DELETE_STRUCTURED)
    def on_delete_structured(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """The client's MaidManagers forward a delete: propose it (the owner's signature is
        checked against the stored record when it commits)."""
        delete = msg.typed(DeleteStructuredRequestBody)
        self.propose(msg.dst.name, DeleteStructured(delete.version, delete.signature,
                                                    delete.id, delete.reply),
                     ctx, out, msg.trace_id)

    @commits(PutStructured)
    def commit_put_structured(self, name: bytes, action: PutStructured, ctx: Context,
                              out: Outbox, trace: bytes) -> None:
        """Agreed put: store the record at version 0 unless one exists (DataExists)."""
        record = action.record
        if self.record(name) is not None:
            self._structured_answer(name, action, RECORD_EXISTS, out, trace)
        elif record.version != 0:
            self._structured_answer(name, action, stale(0, record.version, 0), out, trace)
        else:
            self._keep(name, record, out, trace)
            self._structured_answer(name, action, StructuredAnswerBody(True, record=record),
                                    out, trace)

    @commits(UpdateStructured)
    def commit_update_structured(self, name: bytes, action: UpdateStructured, ctx: Context,
                                 out: Outbox, trace: bytes) -> None:
        """Agreed update: replace the record if the owner key and the nonce are the stored
        ones and the version is the stored one plus one (NoSuchElement, NotOwner,
        StaleVersion: an update signed for an earlier record at the name is refused)."""
        record, stored = action.record, self.record(name)
        if stored is None:
            answer = NO_RECORD
        elif record.owner != stored.owner:
            answer = WRONG_OWNER
        elif record.nonce != stored.nonce:
            answer = EARLIER_RECORD
        elif record.version != stored.version + 1:
            answer = stale(stored.version, record.version, stored.version + 1)
        else:
            self._keep(name, record, out, trace)
            answer = StructuredAnswerBody(True, record=record)
        self._structured_answer(name, action, answer, out, trace)

    @commits(DeleteStructured)
    def commit_delete_structured(self, name: bytes, action: DeleteStructured, ctx: Context,
                                 out: Outbox, trace: bytes) -> None:
        """Agreed delete: remove the record if the stored owner key signed its delete with the
        stored nonce at the stored version (NoSuchElement, NotOwner: a signature for an earlier
        record at the name does not verify; StaleVersion)."""
        stored = self.record(name)
        if stored is None:
            answer = NO_RECORD
        elif not verifies(stored.owner, action.signature,
                          delete_bytes(name, stored.nonce, action.version)):
            answer = WRONG_OWNER
        elif action.version != stored.version:
            answer = stale(stored.version, action.version, stored.version)
        else:
            self.structured.delete(name)
            out.note(EventKind.STRUCTURED_DELETED, name, trace, persona=self.persona.value,
                     version=stored.version)
            answer = StructuredAnswerBody(True, record=stored, deleted=True)
        self._structured_answer(name, action, answer, out, trace)

    def _keep(self, name: bytes, record: StructuredRecord, out: Outbox, trace: bytes) -> None:
        self.structured.put(name, record.to_record())
        out.note(EventKind.STRUCTURED_STORED, name, trace, persona=self.persona.value,
                 version=record.version, size=len(record.data))

    def _structured_answer(self, name: bytes,
                           action: PutStructured | UpdateStructured | DeleteStructured,
                           body: StructuredAnswerBody, out: Outbox, trace: bytes) -> None:
        self.answer_through_managers(name, action.id, action.reply, Action.STRUCTURED_RESULT,
                                     body, out, trace)

    # -- reads, straight from the client -------------------------------------------------------

    @handles(Action.GET_STRUCTURED)
    def on_get_structured(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """Anyone reads a record: answered from our own copy (the client checks the owner's
        signature)."""
        record = self.record(msg.dst.name)
        body = NO_RECORD if record is None else StructuredAnswerBody(True, record=record)
        self.answer_read(msg, Action.STRUCTURED_ANSWER, body, ctx, out)

    # -- answering, shared with the version trees -------------------------------------------------

    def answer_through_managers(self, key: bytes, request: bytes, reply: Authority,
                                result: Action, body: Body, out: Outbox, trace: bytes) -> None:
        """Send the agreed answer `body` to the request `request` to the client's MaidManagers
        (as `result`), which pass it on and record it for the client's retry."""
        out.send(self.group_message(key, reply.name, result,
                                    VersionResultBody(request, reply, body.encode()),
                                    trace, new_id(result, request),
                                    dst_persona=Persona.MAID_MANAGER))

    def answer_read(self, msg: Message, answer: Action, body: Body, ctx: Context,
                    out: Outbox) -> None:
        """Answer the client's read `msg` with `body` (as `answer`), recorded in the firewall
        for its retry."""
        reply = self.group_message(msg.dst.name, msg.src.name, answer, body,
                                   msg.trace_id, new_id(answer, msg.msg_id),
                                   dst_persona=msg.src.persona, dst_group=False,
                                   relay=msg.src.relay)
        out.send(reply)
        self.firewall.update(msg.sender + msg.msg_id, reply, ctx.now())
