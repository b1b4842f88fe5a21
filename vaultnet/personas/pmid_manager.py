"""PmidManager: the account of one storage node — bytes stored, bytes lost, copies held.

Group: the vaults closest to the PmidNode's name (never the node itself). Every store and delete
for the node passes through here and is agreed (sync) before it is sent on, so the account is the
group's record of what the node should hold. Lost bytes feed its rank.

A failure the node reports is counted with the size it claims; the copy's DataManagers, which know
the true size, send a correction when the two differ: `stored` gets the difference back and the true
size counts as lost, once (`LIED`). A copy lost in an integrity check leaves `stored` and counts as
lost (the same correction, with nothing reported): Lose<Data>, one agreed action that takes the
copy out of the node's per-chunk account, counts its size as lost once, and tells the node to
delete the copy (it must not keep serving a copy the network counts as lost).

As the original design draws it, the account is also per chunk: a second store keyed node name +
copy name -> size (`PmidCopy`), kept in step with the aggregate by the same commits (a put adds,
a delete, a failure or a loss removes) and moving with churn like it (its keys start with the
node's name, the group's). It holds at most one entry per copy the node holds, so it is bounded
by the node's store; account transfer sends a group's records in batches, so one record per copy
does not mean one message per copy. A node that leaves keeps its account, as the original design
keeps an offline node's. The DataManagers replace it as a holder without telling us (and a copy
deleted after they replaced it is not deleted here either), so those entries stay while it is
away; at its rejoin SendAccount still lists them, and the node keeps them until its reconcile
rounds hear it was replaced, or that the copy has no record any more: it then deletes each and
reports it (GONE_WHILE_AWAY), which takes it out of the account.

The account also holds the space the node offers (`available`: its capacity, which the node
reports when it joins, agreed like every change), and answers a MaidManager group's
GetPMIDHealth with stored, lost, available and rank: a client that registered the node gets
its allowance from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import (
    ContestedAction,
    PmidCapacity,
    PmidCorrect,
    PmidDelete,
    PmidFailed,
    PmidPut,
)
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    ACCOUNT_PAGE,
    FAILED_CHECK,
    GONE_WHILE_AWAY,
    AccountEntry,
    AccountPageBody,
    CapacityBody,
    ContentWantedBody,
    CopyBody,
    CopyDeleteBody,
    CorrectionBody,
    HolderFailureBody,
    HolderPutBody,
    NodeFailureBody,
    PmidHealthBody,
)
from vaultnet.personas.context import Context
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.records import PmidAccount, PmidCopy, node_rank
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import MemoryRecords, Records, encode
from vaultnet.storage.store import CopyKind, is_content_of
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

RANK_FLOOR = 0.75
"""A node ranked below this is refused new copies: its PmidManagers agree on the verdict (a
contested vote, `PmidManager.on_put`; a tied round is re-voted for storing) and answer the
DataManagers' put with a PutFailure (BELOW_FLOOR), and each DataManager that learns of it stops
proposing it for new copies (a replacement is chosen from the copy's agreed record alone, and
may be refused again)."""
BELOW_FLOOR = "rank below floor"


def rank(account: Mapping[str, Any]) -> float:
    """Share of the data entrusted to the node that it did not lose: stored / (stored + lost),
    of an account as stored (`PmidAccount.rank` of a typed one).

    A node that never lost anything ranks 1.0; one that lost as much as it holds ranks 0.5.
    """
    return node_rank(account["stored"], account["lost"])


class PmidManager(GroupPersona):
    """A storage node's account: what it should hold, what it lost, its rank."""

    persona = Persona.PMID_MANAGER
    needs_payload = frozenset({Action.PUT})
    resendable = frozenset({Action.STORE})

    def __init__(self, params: Parameters, accounts: Records,
                 copies: Records | None = None) -> None:
        super().__init__(params)
        self.accounts = accounts
        self.copies = copies if copies is not None else MemoryRecords(f"{accounts.table}_copies")
        """The per-chunk account: node name + copy name -> `PmidCopy` (in memory if not given)."""

    def transfer_stores(self) -> list[Records]:
        """The node accounts, aggregate and per chunk, move with churn."""
        return [self.accounts, self.copies]

    def copies_of(self, node: Name) -> dict[Name, int]:
        """`node`'s per-chunk account: copy name -> size of every copy it should hold."""
        found: dict[Name, int] = {}
        after: Name | None = None
        while page := self.entries_of(node, after):
            found.update((entry.copy, entry.size) for entry in page)
            after = page[-1].copy
        return found

    def churned(self, ctx: Context, lost: Name | None, added: Name | None) -> Outbox:
        """After a change in our close set: hand our records on; and when the change is a
        node we keep an account of (re)joining, send it that account (SendAccount)."""
        out = self.transfers.churned(ctx, lost, added)
        if (added is not None and ctx.is_responsible(added) and added in self.accounts
                and self.transfers.settled(added)):
            self.send_account(added, out)
        return out

    def send_account(self, node: Name, out: Outbox) -> None:
        """SendAccount: every copy `node` should hold, in pages of at most ACCOUNT_PAGE in
        name order. Each page's id derives from its content, so members with equal accounts
        send equal pages and the node acts on a quorum of them; a page sent again (the node
        rejoined once more, its account unchanged) is the same message."""
        after: Name | None = None
        while True:
            entries = self.entries_of(node, after)
            last = len(entries) < ACCOUNT_PAGE
            page = AccountPageBody(entries, last, after)
            out.send(self.group_message(node, node, Action.SEND_ACCOUNT, page, bytes(16),
                                        new_id("pm-account", node, encode(page.encode())),
                                        dst_persona=Persona.PMID_NODE, dst_group=False))
            if last:
                return
            after = entries[-1].copy

    def entries_of(self, node: Name, after: Name | None = None,
                   limit: int = ACCOUNT_PAGE) -> list[AccountEntry]:
        """Up to `limit` copies of `node`'s per-chunk account whose names follow `after` (from
        the first if None), in name order."""
        entries = []
        for key, raw in self.copies.items_after(node + after if after else node, limit):
            if key[:NAME_SIZE] == node:
                held = PmidCopy.from_record(raw)
                entries.append(AccountEntry(key[NAME_SIZE:], held.kind, held.size))
        return entries

    def _hold(self, node: Name, copy: Name, kind: CopyKind, size: int) -> None:
        self.copies.put(node + copy, PmidCopy(kind, size).to_record())

    def _drop(self, node: Name, copy: Name) -> bool:
        return self.copies.delete(node + copy)

    def account(self, node: Name) -> dict[str, Any]:
        """`node`'s account as stored (an empty one if none)."""
        return self.account_of(node).to_record()

    def account_of(self, node: Name) -> PmidAccount:
        """`node`'s account (an empty one if none)."""
        raw = self.accounts.get(node)
        return PmidAccount.from_record(raw) if raw else PmidAccount()

    def _keep(self, node: Name, account: PmidAccount) -> None:
        self.accounts.put(node, account.to_record())

    @handles(Action.PUT)
    def on_put(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A copy's DataManagers chose the node as a holder: keep the content, and vote to
        store it or, if the node ranks below the floor by our account of it, to refuse it (the
        account is charged only once the group agrees). The verdict is contested: a member's
        account of the node is the changes it has committed so far, and members commit the
        node's changes (a put, a correction for a failed check) in the orders their votes
        reached them, so members judging alone at the commit split 2 + 2 as the node crossed
        the floor: half refused the copy, half sent the store, neither reached its quorum, and
        the client's put went unanswered (every vault lying, about 1 seed in 10)."""
        node = msg.dst.name
        put = msg.typed(HolderPutBody)
        copy = put.copy
        self.stash.put(copy, payload)
        refused = self.account_of(node).rank < RANK_FLOOR
        self.propose_contested(node, PmidPut(copy, put.kind, put.size, msg.msg_id, refused,
                                             round=0), ctx, out, msg.trace_id)

    def plausible(self, key: Name, action: ContestedAction, ctx: Context) -> bool:
        """A peer's verdict on a put to the node we may vote for: either verdict (the floor is
        the group's to apply, by accounts that differ for a while), on the put we received:
        the copy's content is with us, of the size and kind the vote says."""
        if not isinstance(action, PmidPut):
            return False
        content = self.stash.get(action.copy)
        return (content is not None and len(content) == action.size
                and is_content_of(content, action.copy, action.kind))

    @commits(PmidPut)
    def commit_put(self, node: Name, action: PmidPut, ctx: Context, out: Outbox,
                   trace: bytes) -> None:
        """Agreed: refuse the copy if the group found the node below the floor (PutFailure to
        the DataManagers), otherwise charge its account and send it the store (the lead
        attaches content)."""
        if action.refused:
            out.send(self.group_message(
                node, action.copy, Action.PUT_FAILURE,
                HolderFailureBody(node, action.size, BELOW_FLOOR),
                trace, new_id("pm-floor", action.id), dst_persona=Persona.DATA_MANAGER))
            self.stash.release(action.copy)
            return
        account = self.account_of(node)
        self._keep(node, replace(account, stored=account.stored + action.size,
                                 count=account.count + 1))
        self._hold(node, action.copy, action.kind, action.size)
        payload = self.stash.get(action.copy) if self.is_lead(node, ctx) else None
        out.send(self.group_message(
            node, node, Action.STORE,
            HolderPutBody(action.copy, action.kind, action.size),
            trace, new_id("pm-store", action.id), dst_persona=Persona.PMID_NODE,
            dst_group=False, payload=payload or b""))
        self.release_unless_lead(action.copy, node, ctx)

    def content_missing(self, resend: Message, ctx: Context, out: Outbox) -> None:
        """The node wants a store's content and we lead its group by our view, but never saw
        the put (a vault that just (re)joined leads its groups at once, without the puts agreed
        while it was away): ask the other members, which have the content, to send it."""
        for member in ctx.close_group(resend.src.name):
            if member != ctx.own:
                out.send(Message(src=Authority(ctx.own, self.persona),
                                 dst=Authority(member, self.persona), action=Action.CONTENT_WANTED,
                                 msg_id=new_id("content_wanted", resend.msg_id, member),
                                 trace_id=resend.trace_id, sender=b"",
                                 body=ContentWantedBody(resend.msg_id, resend.src.name,
                                                        resend.body).encode()))

    @handles(Action.CONTENT_WANTED)
    def on_content_wanted(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """Our group's lead lacks a store's content the node asked for: we send the store with
        it if we have it. Harmless if forged: the node still needs the store from a quorum of
        us, and checks the content against the copy's name."""
        asked = msg.typed(ContentWantedBody)
        node, wanted = asked.node, asked.store
        if not isinstance(wanted.get("copy"), bytes):
            raise FrameError("content_wanted without the store's body")
        if not ctx.could_be_member(msg.sender, node) or not ctx.is_responsible(node):
            raise FrameError("content_wanted from outside the node's group")
        content = self.wanted_content(wanted)
        if content is not None:
            out.send(self.group_message(node, node, Action.STORE, wanted, msg.trace_id,
                                        asked.id,
                                        dst_persona=Persona.PMID_NODE, dst_group=False,
                                        payload=content))

    @handles(Action.DELETE)
    def on_delete(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A copy's DataManagers drop the node as a holder: propose the delete."""
        delete = msg.typed(CopyDeleteBody)
        self.propose(msg.dst.name, PmidDelete(delete.copy, delete.size, msg.msg_id),
                     ctx, out, msg.trace_id)

    @commits(PmidDelete)
    def commit_delete(self, node: Name, action: PmidDelete, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """Agreed: take the copy out of the node's account and tell the node to delete it."""
        self._shrink(node, action.size)
        self._drop(node, action.copy)
        out.send(self.group_message(node, node, Action.DELETE, CopyBody(action.copy), trace,
                                    new_id("pm-del", action.id),
                                    dst_persona=Persona.PMID_NODE, dst_group=False))

    def _shrink(self, node: Name, size: int) -> None:
        account = self.account_of(node)
        self._keep(node, replace(account, stored=max(0, account.stored - size),
                                 count=max(0, account.count - 1)))

    @handles(Action.PUT_FAILURE)
    def on_put_failure(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """From the node itself: it evicted a Sacrificial copy or refused one."""
        if msg.src.name != msg.dst.name:
            return
        failure = msg.typed(NodeFailureBody)
        self.propose(msg.dst.name,
                     PmidFailed(failure.copy, failure.size, failure.reason, msg.msg_id),
                     ctx, out, msg.trace_id)

    @commits(PmidFailed)
    def commit_failed(self, node: Name, action: PmidFailed, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """Agreed: the node no longer holds the copy; tell its DataManagers, which replace it
        (and correct the size it reported if it lied). A copy they replaced while the node
        was away (GONE_WHILE_AWAY) only leaves the account, by the size the account holds."""
        if action.reason == GONE_WHILE_AWAY:
            raw = self.copies.get(node + action.copy)
            if raw is not None:
                self._shrink(node, PmidCopy.from_record(raw).size)
                self._drop(node, action.copy)
            return
        self._shrink(node, action.size)
        self._drop(node, action.copy)
        out.note(EventKind.PUT_FAILURE, action.copy, trace, persona=self.persona.value,
                 node=node, reason=action.reason)
        out.send(self.group_message(
            node, action.copy, Action.PUT_FAILURE,
            HolderFailureBody(node, action.size, action.reason),
            trace, new_id("pm-fail", action.id), dst_persona=Persona.DATA_MANAGER))

    @handles(Action.CORRECTION)
    def on_correction(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The copy's DataManagers found the node failing it: it reported another size than
        the copy's (a lie), or failed an integrity check (reported 0: the copy is lost)."""
        correction = msg.typed(CorrectionBody)
        self.propose(msg.dst.name, PmidCorrect(correction.size, correction.reported,
                                               correction.reason, msg.msg_id, correction.copy),
                     ctx, out, msg.trace_id)

    @commits(PmidCorrect)
    def commit_correct(self, node: Name, action: PmidCorrect, ctx: Context, out: Outbox,
                       trace: bytes) -> None:
        """`stored` was cut by the reported size: it is cut by the true size instead (clamped
        at 0, as every cut is), and the true size counts as lost, once. A failed integrity
        check is Lose<Data>: the copy also leaves the per-chunk account and the node is told to
        delete it."""
        reported, size = action.reported, action.size
        account = self.account_of(node)
        account = replace(account, stored=max(0, account.stored + reported - size))
        if action.reason == FAILED_CHECK:  # a lost copy was never counted out
            account = replace(account, count=max(0, account.count - 1))
        before = account.rank
        account = replace(account, lost=account.lost + size)
        self._keep(node, account)
        out.note(EventKind.RANK_CHANGED, node, trace, before=before, rank=account.rank,
                 reason=action.reason)
        if action.reason == FAILED_CHECK and action.copy is not None:
            self._drop(node, action.copy)
            out.send(self.group_message(node, node, Action.DELETE, CopyBody(action.copy), trace,
                                        new_id("pm-lose", action.id),
                                        dst_persona=Persona.PMID_NODE, dst_group=False))

    # -- capacity and health (a client's registered vault) -------------------------------------

    @handles(Action.CAPACITY)
    def on_capacity(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """From the node itself: the space it offers, proposed by every member, also one whose
        account holds it already: a member that lacks it (it built the account from puts
        before the report reached it) proposed alone before, a vote that never committed, and
        the group's copies of the account stayed different (sim, 32 vaults, seed 3). The node
        reports only in its first reconcile rounds, so this costs a few votes per join."""
        if msg.src.name != msg.dst.name or msg.src.persona is not Persona.PMID_NODE:
            return
        available = msg.typed(CapacityBody).available
        self.propose(msg.dst.name, PmidCapacity(available, msg.msg_id), ctx, out, msg.trace_id)

    @commits(PmidCapacity)
    def commit_capacity(self, node: Name, action: PmidCapacity, ctx: Context, out: Outbox,
                        trace: bytes) -> None:
        """Agreed: the node offers `available` bytes."""
        self._keep(node, replace(self.account_of(node), available=action.available))

    @handles(Action.GET_PMID_HEALTH)
    def on_get_pmid_health(self, msg: Message, payload: bytes, ctx: Context,
                           out: Outbox) -> None:
        """A client's MaidManagers ask how the node it registered does (GetPMIDHealth): answer
        its group with the account's stored, lost, available and rank."""
        if msg.src.persona is not Persona.MAID_MANAGER or not msg.src.group:
            raise FrameError("GetPMIDHealth comes from a MaidManager group")
        node = msg.dst.name
        account = self.account_of(node)
        out.send(self.group_message(
            node, msg.src.name, Action.PMID_HEALTH,
            PmidHealthBody(node, account.stored, account.lost, account.available, account.rank),
            msg.trace_id, new_id(Action.PMID_HEALTH, msg.msg_id),
            dst_persona=Persona.MAID_MANAGER))
