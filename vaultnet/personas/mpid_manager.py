"""MpidManager: accounts, whitelist / blacklist and held messages of public identities
(docs/origins.md).

Group: the vaults closest to an MPID's name. Records, each keyed so its first 64 bytes name the
MPID whose group holds it (they move with churn):

* ``accounts``: MPID -> `MpidAccount` (whitelist, blacklist, relay: where its MpidNode was
  last online, inbox and outbox counts);
* ``inbox``: recipient + sender + message id -> `HeldMessage`, held until the recipient's
  MpidNode acknowledges it (the original design's key);
* ``outbox``: sender + message id -> `OutboxEntry`, until the recipient's group answers.

A send goes MpidNode(A) -> MpidManager(A) [sync: outbox] -> MpidManager(B) [accumulate, sync:
lists and room checked, inbox] -> MpidManager(A) [accumulate, sync: outbox cleared] -> MpidNode(A)
(sent, blocked or inbox full). MpidManager(B) pushes the message to B if B is online and again
every time B says it is online, until B acknowledges it: that is the offline hold.

Decisions:
* **Online / offline**: the MpidNode announces itself (with the vault it is connected through)
  when it connects; when its last connection to that vault closes, the vault tells the
  managers (`offline`, believed only from the relay the account records), and they stop
  pushing and hold. A push lost on the way leaves the message held: it is pushed again when
  the node next comes online, and when the node's manager group changes.
* **Lists**: the blacklist always refuses; a non-empty whitelist refuses everyone not on it;
  an empty whitelist lets everyone not blacklisted through. The sender learns it was blocked.
* **Bounds**: INBOX_LIMIT held messages per recipient, OUTBOX_LIMIT unanswered sends per sender,
  LIST_LIMIT names per list, MAX_BODY bytes per message. An outbox entry whose recipient group
  never answers is dropped after OUTBOX_TTL seconds and the sender told it was not delivered.
* The recipient-side checks run at commit, on the agreed state, so every member decides alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import (
    DeliveryAnswer,
    MpidAck,
    MpidChangeList,
    MpidDeliver,
    MpidDelivered,
    MpidOffline,
    MpidOnline,
    MpidSend,
    SyncAction,
)
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    AckBody,
    ChangeListBody,
    DeliveryBody,
    HeldMessageBody,
    MpidAnswerBody,
    SendBody,
)
from vaultnet.personas.context import Context
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.records import HeldMessage, MpidAccount, OutboxEntry
from vaultnet.protocol import Action, ErrorCode, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

INBOX_LIMIT = 128
OUTBOX_LIMIT = 128
LIST_LIMIT = 256
MAX_BODY = 64 * 1024
OUTBOX_TTL = 120.0

MESSAGE_HELD = EventKind.MESSAGE_HELD
MESSAGE_DELIVERED = EventKind.MESSAGE_DELIVERED
MPID_OFFLINE = EventKind.MPID_OFFLINE
PUSHES_PER_CHURN = 256
"""Held messages re-pushed after one change of our close set, at most (each is one message
per member): a burst of churn cannot become a burst of pushes."""
MESSAGE_REFUSED = EventKind.MESSAGE_REFUSED


class MpidManager(GroupPersona):
    """Public identities' accounts, lists and held messages: sends, delivers and pushes."""

    persona = Persona.MPID_MANAGER

    def __init__(self, params: Parameters, accounts: Records, inbox: Records,
                 outbox: Records) -> None:
        super().__init__(params)
        self.accounts = accounts
        self.inbox = inbox
        self.outbox = outbox
        self.inbox_limit = INBOX_LIMIT
        self.outbox_limit = OUTBOX_LIMIT
        self._outbox_seen: dict[bytes, float] = {}

    def transfer_stores(self) -> list[Records]:
        """Accounts, held messages and unanswered sends move with churn."""
        return [self.accounts, self.inbox, self.outbox]

    def account(self, mpid: Name) -> MpidAccount:
        """`mpid`'s account record (an empty one if none)."""
        raw = self.accounts.get(mpid)
        return MpidAccount() if raw is None else MpidAccount.from_record(raw)

    def _keep(self, mpid: Name, account: MpidAccount) -> None:
        self.accounts.put(mpid, account.to_record())

    def held(self, mpid: Name) -> list[HeldMessage]:
        """The messages held for `mpid`, in key order (sender, then id)."""
        return [HeldMessage.from_record(value) for key, value in self.inbox.items()
                if key[:NAME_SIZE] == mpid]

    # -- requests from the MpidNode -----------------------------------------------------------

    @handles(Action.SEND)
    def on_send(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """An MpidNode sends a message: refuse an oversized body, otherwise propose it into
        the sender's outbox."""
        send = msg.typed(SendBody)
        if len(send.body) > MAX_BODY:
            self._answer_now(msg, MpidAnswerBody(False, ErrorCode.MESSAGE_TOO_LARGE,
                                                 f"a message body is bytes, at most {MAX_BODY}"),
                             ctx, out)
            return
        self._propose_for(msg, MpidSend(send.to, send.body, msg.msg_id, msg.src), ctx, out)

    @handles(Action.ONLINE)
    def on_online(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """An MpidNode says where it is connected: propose recording it (then push)."""
        self._propose_for(msg, MpidOnline(msg.msg_id, msg.src), ctx, out)

    @handles(Action.OFFLINE)
    def on_offline(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The vault an MpidNode went online through says its connection closed: believed
        only from that vault (the relay the account records), then agreed."""
        mpid = msg.dst.name
        relay = self.account(mpid).relay
        if relay is None or Authority.from_wire(relay).relay != msg.sender:
            return
        self.propose(mpid, MpidOffline(msg.sender), ctx, out, msg.trace_id)

    @commits(MpidOffline)
    def commit_offline(self, mpid: Name, action: MpidOffline, ctx: Context, out: Outbox,
                       trace: bytes) -> None:
        """Agreed: the node is offline (unless it came back through another vault): hold."""
        account = self.account(mpid)
        relay = account.relay
        if relay is None or Authority.from_wire(relay).relay != action.relay:
            return  # it came back online through another vault since
        self._keep(mpid, dataclasses.replace(account, relay=None))
        out.note(MPID_OFFLINE, mpid, trace, persona=self.persona.value,
                 held=len(self.held(mpid)))

    @handles(Action.ACK)
    def on_ack(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The node took a pushed message: propose dropping it from the inbox."""
        ack = msg.typed(AckBody)
        self.propose(msg.src.name, MpidAck(ack.sender, ack.mid), ctx, out, msg.trace_id)

    @handles(Action.CHANGE_LIST)
    def on_change_list(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The node allows, disallows, blocks or unblocks a sender: propose the change."""
        change = msg.typed(ChangeListBody)
        self._propose_for(msg, MpidChangeList(change.change, change.name, msg.msg_id, msg.src),
                          ctx, out)

    @handles(Action.GET_LISTS)
    def on_get_lists(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The node reads its white- and blacklist: answered from our record."""
        account = self.account(msg.src.name)
        self._answer_now(msg, MpidAnswerBody(True, whitelist=account.whitelist,
                                             blacklist=account.blacklist), ctx, out)

    @handles(Action.GET_INBOX)
    def on_get_inbox(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The node reads the messages held for it: answered from our inbox."""
        self._answer_now(msg, MpidAnswerBody(True, messages=self.held(msg.src.name)), ctx, out)

    def _propose_for(self, msg: Message, action: SyncAction, ctx: Context,
                     out: Outbox) -> None:
        self.propose(msg.src.name, action, ctx, out, msg.trace_id)

    def _answer_now(self, msg: Message, body: MpidAnswerBody, ctx: Context, out: Outbox) -> None:
        self._answer_recorded(msg.src.name, msg.src.to_wire(), msg.msg_id, body, msg.trace_id,
                              ctx, out)

    def _answer_recorded(self, client: Name, reply: Any, request_id: bytes,
                          body: MpidAnswerBody, trace: bytes, ctx: Context, out: Outbox) -> None:
        """Send our answer to `client`'s request and record it in the firewall (Uf), agreed or
        not: the client's retry of a request whose answer was lost gets this answer again."""
        answer = self._answer(client, reply, request_id, body, trace)
        out.send(answer)
        self.firewall.update(client + request_id, answer, ctx.now())

    def _answer(self, mpid: Name, reply: Any, request_id: bytes, body: MpidAnswerBody,
                trace: bytes) -> Message:
        to = Authority.from_wire(reply)
        return self.group_message(mpid, to.name, Action.MPID_ANSWER, body, trace,
                                  new_id("mpid_answer", request_id), dst_persona=to.persona,
                                  dst_group=False, relay=to.relay)

    # -- agreed actions -------------------------------------------------------------------------

    @commits(MpidSend)
    def commit_send(self, sender: Name, action: MpidSend, ctx: Context, out: Outbox,
                    trace: bytes) -> None:
        """Agreed send: into the outbox (refused when full), then on to the recipient's
        managers."""
        key = sender + action.id
        account = self.account(sender)
        if key not in self.outbox:
            if account.outbox >= self.outbox_limit:
                self._answer_recorded(sender, action.reply.to_wire(), action.id, MpidAnswerBody(
                    False, ErrorCode.OUTBOX_FULL,
                    f"{account.outbox} messages await an answer"), trace, ctx, out)
                return
            self._keep(sender, dataclasses.replace(account, outbox=account.outbox + 1))
            self.outbox.put(key, OutboxEntry(action.to, action.body,
                                             action.reply.to_wire()).to_record())
            self._outbox_seen[key] = ctx.now()
        out.send(self.group_message(sender, action.to, Action.DELIVER,
                                    HeldMessageBody(sender, action.id, action.body),
                                    trace, new_id("deliver", key)))

    @handles(Action.DELIVER)
    def on_deliver(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The sender's managers deliver a message to our MPID: propose taking it."""
        message = msg.typed(HeldMessageBody)
        if message.sender != msg.src.name:
            raise FrameError("a message must come from its sender's managers")
        self.propose(msg.dst.name, MpidDeliver(message.sender, message.mid, message.body), ctx,
                     out, msg.trace_id)

    @commits(MpidDeliver)
    def commit_deliver(self, recipient: Name, action: MpidDeliver, ctx: Context,
                       out: Outbox, trace: bytes) -> None:
        """Agreed delivery: refuse it by the lists or a full inbox, else hold it (and push it
        if the recipient is online); answer the sender's managers either way."""
        sender, mid = action.sender, action.mid
        account = self.account(recipient)
        key = recipient + sender + mid
        refusal = None if key in self.inbox else self._refusal(account, sender)
        answer = DeliveryBody(refusal is None, recipient, mid, *(refusal or (None, None)))
        if refusal is not None:
            out.note(MESSAGE_REFUSED, recipient, trace, persona=self.persona.value,
                     sender=sender, mid=mid, error=refusal[0], reason=refusal[1])
        elif key not in self.inbox:
            message = HeldMessage(sender, mid, action.body)
            self.inbox.put(key, message.to_record())
            self._keep(recipient, dataclasses.replace(account, inbox=account.inbox + 1))
            out.note(MESSAGE_HELD, recipient, trace, persona=self.persona.value, sender=sender,
                     mid=mid, online=account.relay is not None)
            if account.relay is not None:
                out.send(self._push(recipient, account.relay, message, trace, b"held"))
        out.send(self.group_message(recipient, sender, Action.DELIVERY, answer, trace,
                                    new_id("delivery", key)))

    def _refusal(self, account: MpidAccount, sender: Name) -> tuple[ErrorCode, str] | None:
        if sender in account.blacklist:
            return ErrorCode.BLOCKED, "the recipient has blacklisted you"
        if account.whitelist and sender not in account.whitelist:
            return ErrorCode.BLOCKED, "you are not on the recipient's whitelist"
        if account.inbox >= self.inbox_limit:
            return ErrorCode.INBOX_FULL, f"the recipient's inbox holds {account.inbox} messages"
        return None

    @handles(Action.DELIVERY)
    def on_delivery(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The recipient's managers answered a delivery: propose clearing the outbox entry."""
        delivery = msg.typed(DeliveryBody)
        if delivery.to != msg.src.name:
            raise FrameError("a delivery answer must come from the recipient's managers")
        answer = DeliveryAnswer(delivery.ok, delivery.error, delivery.reason)
        self.propose(msg.dst.name, MpidDelivered(delivery.mid, answer), ctx, out, msg.trace_id)

    @commits(MpidDelivered)
    def commit_delivered(self, sender: Name, action: MpidDelivered, ctx: Context, out: Outbox,
                         trace: bytes) -> None:
        """Agreed: clear the outbox entry and pass the recipient's answer to the sender."""
        entry = self._clear_outbox(sender, action.mid, ctx)
        if entry is not None:
            answer = action.answer
            self._answer_recorded(sender, entry.reply, action.mid,
                                  MpidAnswerBody(answer.ok, answer.error, answer.reason),
                                  trace, ctx, out)

    def _clear_outbox(self, sender: Name, mid: bytes, ctx: Context) -> OutboxEntry | None:
        key = sender + mid
        raw = self.outbox.get(key)
        self._outbox_seen.pop(key, None)
        if raw is None:
            return None
        self.transfers.delete_for_good(self.outbox, key, ctx)
        account = self.account(sender)
        self._keep(sender, dataclasses.replace(account, outbox=max(0, account.outbox - 1)))
        return OutboxEntry.from_record(raw)

    @commits(MpidOnline)
    def commit_online(self, mpid: Name, action: MpidOnline, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """Agreed: record where the node is and push it everything we hold for it."""
        relay = action.reply.to_wire()
        self._keep(mpid, dataclasses.replace(self.account(mpid), relay=relay))
        held = self.held(mpid)
        for message in held:
            out.send(self._push(mpid, relay, message, trace, action.id))
        self._answer_recorded(mpid, relay, action.id,
                              MpidAnswerBody(True, held=len(held)), trace, ctx, out)

    def _push(self, mpid: Name, relay: Any, message: HeldMessage, trace: bytes,
              occasion: bytes) -> Message:
        """Each push occasion gets its own message id: routing would drop a re-push that reuses
        the id of one lost at a departed relay moments ago as a link-level duplicate."""
        to = Authority.from_wire(relay)
        return self.group_message(mpid, mpid, Action.MESSAGE,
                                  HeldMessageBody(message.sender, message.mid, message.body),
                                  trace,
                                  new_id("message", message.sender, message.mid, occasion),
                                  dst_persona=Persona.MPID_NODE, dst_group=False,
                                  relay=to.relay)

    @commits(MpidAck)
    def commit_ack(self, mpid: Name, action: MpidAck, ctx: Context, out: Outbox,
                   trace: bytes) -> None:
        """Agreed: the node has the message; drop it from the inbox."""
        key = mpid + action.sender + action.mid
        if not self.transfers.delete_for_good(self.inbox, key, ctx):
            return
        account = self.account(mpid)
        self._keep(mpid, dataclasses.replace(account, inbox=max(0, account.inbox - 1)))
        out.note(MESSAGE_DELIVERED, mpid, trace, persona=self.persona.value,
                 sender=action.sender, mid=action.mid)

    @commits(MpidChangeList)
    def commit_change_list(self, mpid: Name, action: MpidChangeList, ctx: Context,
                           out: Outbox, trace: bytes) -> None:
        """Agreed: apply the list change (refused past LIST_LIMIT) and answer the node."""
        account = self.account(mpid)
        change, name = action.change, action.name
        which = "whitelist" if change in ("allow", "disallow") else "blacklist"
        names = list(getattr(account, which))
        refused = None
        if change in ("allow", "block") and name not in names:
            if len(names) >= LIST_LIMIT:
                refused = MpidAnswerBody(False, ErrorCode.LIST_FULL,
                                         f"the {which} holds {LIST_LIMIT} names")
            else:
                names.append(name)
                names.sort()
        elif change in ("disallow", "unblock") and name in names:
            names.remove(name)
        if refused is None:
            account = (dataclasses.replace(account, whitelist=names) if which == "whitelist"
                       else dataclasses.replace(account, blacklist=names))
            self._keep(mpid, account)
        body = refused or MpidAnswerBody(True, whitelist=account.whitelist,
                                         blacklist=account.blacklist)
        self._answer_recorded(mpid, action.reply.to_wire(), action.id, body, trace, ctx, out)

    def churned(self, ctx: Context, lost: Name | None, added: Name | None) -> Outbox:
        """Besides account transfer: where an online MPID's manager group changed, every
        member pushes its held messages again (the original design: "from the database"), so a
        push lost while the group changed does not wait for the node's next time online. The
        push's id names the churn event, so members' copies accumulate at the node."""
        out = super().churned(ctx, lost, added)
        budget = PUSHES_PER_CHURN
        occasion = b"churn" + (lost or b"") + (added or b"")
        for mpid, raw in self.accounts.items():
            if budget <= 0:
                break
            account = MpidAccount.from_record(raw)
            if not account.inbox or account.relay is None:
                continue
            members = ctx.close_group(mpid)
            if ctx.own not in members or set(members) == set(
                    self.transfers.group_before(mpid, ctx, lost, added)):
                continue
            for message in self.held(mpid)[:budget]:
                out.send(self._push(mpid, account.relay, message, bytes(16), occasion))
                budget -= 1
        return out

    # -- timers ---------------------------------------------------------------------------------

    def resend(self, ctx: Context) -> Outbox:
        """Besides re-sending sync votes, drop outbox entries nobody answered in time."""
        out = super().resend(ctx)
        now = ctx.now()
        for key, raw in list(self.outbox.items()):
            seen = self._outbox_seen.setdefault(key, now)
            if now - seen > OUTBOX_TTL:
                sender, mid = key[:NAME_SIZE], key[NAME_SIZE:]
                self._clear_outbox(sender, mid, ctx)
                self._answer_recorded(sender, OutboxEntry.from_record(raw).reply, mid,
                                      MpidAnswerBody(False, ErrorCode.NOT_DELIVERED,
                                                     "the recipient's managers did not answer"),
                                      bytes(16), ctx, out)
        return out
