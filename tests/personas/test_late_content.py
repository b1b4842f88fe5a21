"""A DataManager lead that commits a new copy on its peers' votes before its own copy of the
put, and with it the content, has arrived, sans-IO. As lead it sends the holders' puts, without
content it does not have yet, and starts a fetch from holders that cannot have it either. The
content arrives a moment later with its own copy of the put: the holders get it then, not when
their PmidManagers ask again after PAYLOAD_WAIT (5 s). That wait was the rare 5 s put of
`vaultnet bench data` (the simulator's seeds 9, 15 and 94 of 32 vaults: the first puts after
boot). Nor does the late copy of the put count as one more subscriber: that vote could never
commit (its peers handled the put already) and was sent again until it expired."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.bodies import CopyPutBody
from vaultnet.personas.data_manager import HOLDERS_PER_COPY, DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.protocol import Action
from vaultnet.storage.store import CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import Name, closest, name_of

CONTENT = b"a Primary copy whose lead is the last to hear of it" * 20
CHUNK = name_of(CONTENT)
COPY = copy_name(CHUNK, CopyKind.PRIMARY)
LEAD = closest(COPY, MEMBERS, 1)[0]
MAID_GROUP = b"\x77" * 64


def client_put() -> Message:
    """The MaidManagers' put of the Primary copy, as accumulated at a DataManager."""
    return Message(src=Authority(MAID_GROUP, Persona.MAID_MANAGER, group=True),
                   dst=Authority(COPY, Persona.DATA_MANAGER, group=True), action=Action.PUT,
                   msg_id=b"p" * 16, trace_id=bytes(16), sender=b"",
                   body=CopyPutBody(CHUNK, CopyKind.PRIMARY, len(CONTENT), b"c" * 64,
                                    b"o" * 16, Authority(b"c" * 64, Persona.MAID_NODE)).encode(),
                   payload=CONTENT)


def holder_puts(out: Outbox) -> dict[Name, bytes]:
    """The puts to the holders' PmidManagers in `out`: holder -> the content it carries."""
    return {m.dst.name: m.payload for m in out.messages
            if m.action == Action.PUT and m.dst.persona is Persona.PMID_MANAGER}


def group(tmp_path: Path) -> tuple[dict[Name, DataManager], dict[Name, Ctx]]:
    """The copy's four DataManagers, and their (identical) views."""
    clock = [0.0]
    managers = {m: DataManager(PARAMS, RecordStore(Database(tmp_path / f"{m.hex()}.db"),
                                                   "records")) for m in MEMBERS}
    for member, manager in managers.items():
        manager.attach(member)
    return managers, {m: Ctx(m, clock) for m in MEMBERS}


def test_a_lead_that_commits_before_its_content_arrives_sends_it_on_arrival(
        tmp_path: Path) -> None:
    managers, views = group(tmp_path)
    votes: list[tuple[Name, Message]] = []
    for member in MEMBERS:
        if member != LEAD:
            out = Outbox()
            managers[member].on_put(client_put(), CONTENT, views[member], out)
            votes.extend((member, m) for m in out.messages if m.action == Action.SYNC)

    lead = managers[LEAD]
    committed = Outbox()
    for sender, vote in votes:
        committed.extend(lead.handle(replace(vote, sender=sender), views[LEAD]))
    record = lead.record(COPY)
    assert record is not None and len(record.holders) == HOLDERS_PER_COPY
    assert holder_puts(committed) == dict.fromkeys(record.holders, b""), \
        "committed on its peers' votes, the lead had no content to send"
    assert lead.fetches.get(COPY) is not None

    arrived = Outbox()
    lead.on_put(client_put(), CONTENT, views[LEAD], arrived)
    assert holder_puts(arrived) == dict.fromkeys(record.holders, CONTENT)
    assert lead.fetches.get(COPY) is None, "nothing is left waiting for the holders' answers"
    assert not [m for m in arrived.messages if m.action == Action.SYNC], \
        "the put that created the copy is not voted again as one more subscriber"
    assert lead.sync is not None and lead.sync.pending() == 0


def test_content_of_a_copy_no_fetch_waits_for_sends_nothing_more(tmp_path: Path) -> None:
    """The common order (the lead's own copy of the put first): the content goes with the
    holders' puts at commit, and a later copy of the put sends them no second time."""
    managers, views = group(tmp_path)
    lead, sent = managers[LEAD], Outbox()
    lead.on_put(client_put(), CONTENT, views[LEAD], sent)
    for member in MEMBERS:
        if member != LEAD:
            out = Outbox()
            managers[member].on_put(client_put(), CONTENT, views[member], out)
            for vote in (m for m in out.messages if m.action == Action.SYNC):
                sent.extend(lead.handle(replace(vote, sender=member), views[LEAD]))
    record = lead.record(COPY)
    assert record is not None
    assert holder_puts(sent) == dict.fromkeys(record.holders, CONTENT)
    again = Outbox()
    lead.on_put(client_put(), CONTENT, views[LEAD], again)
    assert holder_puts(again) == {}
