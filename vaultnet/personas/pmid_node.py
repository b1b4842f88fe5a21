"""PmidNode: the vault's own disk. Stores the copies its PmidManagers send, within capacity.

When full and the incoming copy is a Primary, it evicts Sacrificial copies (oldest first) until
the Primary fits; each eviction is reported up as a PutFailure (PmidNode → PmidManager →
DataManager), which re-replicates the Sacrificial elsewhere. Backup and Sacrificial copies never
evict anything. If a copy still cannot be stored, a PutFailure for that copy goes up instead.
"""

from __future__ import annotations

from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.base import (
    CHUNK_DELETED,
    CHUNK_STORED,
    PUT_FAILURE,
    SACRIFICIAL_EVICTED,
    Context,
    GroupPersona,
    Outbox,
    body_bytes,
    body_str,
    new_id,
)
from vaultnet.personas.integrity import answer_challenge, challenge_reply
from vaultnet.routing import Parameters
from vaultnet.store import ChunkStore, CopyKind, CorruptChunk, StoreFull


class PmidNode(GroupPersona):
    persona = Persona.PMID_NODE
    needs_payload = frozenset({"store"})

    def __init__(self, params: Parameters, chunks: ChunkStore) -> None:
        super().__init__(params)
        self.chunks = chunks
        self.lying = False
        self.losing = False

    def _from_own_managers(self, msg: Message, ctx: Context) -> bool:
        return msg.src.persona == Persona.PMID_MANAGER and msg.src.name == ctx.own

    def on_store(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        if not self._from_own_managers(msg, ctx):
            return
        copy = body_bytes(msg, "copy")
        kind = CopyKind(body_str(msg, "kind", ("P", "B", "S")))
        try:
            self._store(copy, kind, payload, msg, ctx, out)
        except StoreFull as full:
            self._fail(copy, kind, len(payload), f"full ({full.free} bytes free)", msg, ctx, out)
        except CorruptChunk:
            self._fail(copy, kind, len(payload), "content does not match name", msg, ctx, out)

    def _store(self, copy: bytes, kind: CopyKind, payload: bytes, msg: Message, ctx: Context,
               out: Outbox) -> None:
        if kind is CopyKind.PRIMARY and not self.chunks.has(copy):
            for victim in self.chunks.sacrificial():
                if self.chunks.free() >= len(payload):
                    break
                self.chunks.delete(victim.copy_name)
                out.note(SACRIFICIAL_EVICTED, victim.copy_name, msg.trace_id,
                         size=victim.size, for_copy=copy)
                self._report(victim.copy_name, CopyKind.SACRIFICIAL, victim.size,
                             "evicted for a primary", msg.trace_id, ctx, out)
        if not self.losing:
            self.chunks.put(copy, kind, payload)
        out.note(CHUNK_STORED, copy, msg.trace_id, kind=kind.value, size=len(payload))
        out.send(Message(src=Authority(ctx.own, self.persona), dst=Authority(
            copy, Persona.DATA_MANAGER, group=True), action="stored",
            msg_id=new_id("stored", msg.msg_id, ctx.own), trace_id=msg.trace_id,
            body={"copy": copy}, sender=b""))

    def _fail(self, copy: bytes, kind: CopyKind, size: int, reason: str, msg: Message,
              ctx: Context, out: Outbox) -> None:
        out.note(PUT_FAILURE, copy, msg.trace_id, persona=self.persona.value, kind=kind.value,
                 reason=reason)
        self._report(copy, kind, size, reason, msg.trace_id, ctx, out)

    def _report(self, copy: bytes, kind: CopyKind, size: int, reason: str, trace: bytes,
                ctx: Context, out: Outbox) -> None:
        reported = size * 2 + 1 if self.lying else size
        out.send(Message(src=Authority(ctx.own, self.persona), dst=Authority(
            ctx.own, Persona.PMID_MANAGER, group=True), action="put_failure",
            msg_id=new_id("pn-fail", ctx.own, copy, trace, reason), trace_id=trace,
            body={"copy": copy, "kind": kind.value, "size": reported, "reason": reason},
            sender=b""))

    def on_delete(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        if not self._from_own_managers(msg, ctx):
            return
        copy = body_bytes(msg, "copy")
        if self.chunks.delete(copy):
            out.note(CHUNK_DELETED, copy, msg.trace_id, persona=self.persona.value)

    def on_challenge(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """An integrity check: SHA-512(content ‖ nonce) of the copy we hold."""
        copy = body_bytes(msg, "copy")
        nonce = body_bytes(msg, "nonce", None)
        answer = answer_challenge(self.chunks.get(copy), nonce, self.lying)
        out.send(challenge_reply(msg, ctx.own, answer))

    def on_fetch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        copy = body_bytes(msg, "copy")
        data = self.chunks.get(copy) or b""
        out.send(Message(src=Authority(ctx.own, self.persona), dst=msg.src,
                         action="fetch_response", msg_id=new_id("fetched", msg.msg_id),
                         trace_id=msg.trace_id, body={"copy": copy}, sender=b"", payload=data))
