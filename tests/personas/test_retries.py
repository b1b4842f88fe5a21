"""Client retries, sans-IO: a request re-sent with the same id because its answer was lost is
answered again, never swallowed (before: the firewall kept "synchronising" for a get and the
client waited for its whole timeout)."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.data_manager import DataManager
from vaultnet.store import Database, RecordStore
from vaultnet.xor import closest

CLIENT = b"\x66" * 64
CONTENT = b"content of the copy at GROUP"


def get(msg_id: bytes) -> Message:
    return Message(src=Authority(CLIENT, Persona.MAID_NODE),
                   dst=Authority(GROUP, Persona.DATA_MANAGER, group=True), action="get",
                   msg_id=msg_id, trace_id=bytes(16), sender=CLIENT, body={})


def test_a_retried_get_is_answered_again(tmp_path: Path) -> None:
    lead = closest(GROUP, MEMBERS, 1)[0]
    manager = DataManager(PARAMS, RecordStore(Database(tmp_path / "dm.db"), "data_manager"))
    manager.attach(lead)
    manager.records.put(GROUP, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                                "holders": [MEMBERS[-1]], "failed": []})
    manager.stash.put(GROUP, CONTENT)
    ctx = Ctx(lead, [0.0])
    first = manager.handle(get(b"g" * 16), ctx).messages
    retry = manager.handle(get(b"g" * 16), ctx).messages
    assert [m.action for m in first] == ["get_response"] and retry == first
    assert retry[0].payload == CONTENT and retry[0].dst.name == CLIENT
    assert len(manager.firewall) == 0  # a get's answer (up to 1 MiB) is not kept
