"""The MaidManagers' table of copy puts waiting for their DataManagers' confirmation: when a
put is sent again, how often, when its content may go, and that the table stays bounded."""

from __future__ import annotations

from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.copy_puts import CONFIRM_AFTER, RESENDS, UnconfirmedPuts
from vaultnet.xor import name_of

CHUNK = name_of(b"chunk")


def put(n: int) -> Message:
    """A MaidManager group's put of a copy, with id `n`."""
    return Message(src=Authority(name_of(b"client"), Persona.MAID_MANAGER, group=True),
                   dst=Authority(name_of(b"copy %d" % n), Persona.DATA_MANAGER, group=True),
                   action="put", msg_id=n.to_bytes(16, "big"), trace_id=bytes(16), body={},
                   sender=b"")


def table(limit: int = 10) -> tuple[UnconfirmedPuts, list[bytes]]:
    """A table, and the chunks it reported settled (in order)."""
    settled: list[bytes] = []
    return UnconfirmedPuts(settled.append, limit), settled


def test_a_put_is_sent_again_every_confirm_after_until_it_is_given_up() -> None:
    puts, settled = table()
    puts.expect(b"p1", [put(1)], CHUNK, 100.0)
    assert puts.due(100.0 + CONFIRM_AFTER - 0.1) == []
    times = [100.0 + CONFIRM_AFTER * k for k in range(1, RESENDS + 2)]
    sent = [len(puts.due(t)) for t in times]
    assert sent == [1] * RESENDS + [0]
    assert len(puts) == 0 and puts.given_up == 1 and settled == [CHUNK]


def test_the_content_may_go_once_every_copy_is_confirmed() -> None:
    puts, settled = table()
    puts.expect(b"p1", [put(1), put(2), put(3)], CHUNK, 0.0)
    assert puts.confirm(put(1).msg_id) and not puts.confirm(put(1).msg_id)
    assert puts.confirm(put(3).msg_id)
    assert settled == []
    assert [m.msg_id for m, chunk in puts.due(CONFIRM_AFTER)] == [put(2).msg_id]
    assert puts.confirm(put(2).msg_id)
    assert settled == [CHUNK] and puts.given_up == 0


def test_the_table_keeps_the_newest_puts_within_its_limit() -> None:
    puts, settled = table(limit=3)
    for n in range(5):
        puts.expect(b"p%d" % n, [put(n)], name_of(b"%d" % n), float(n))
    assert len(puts) == 3 and puts.given_up == 2
    assert settled == [name_of(b"0"), name_of(b"1")]
    assert [m.msg_id for m, _ in puts.due(100.0)] == [put(n).msg_id for n in (2, 3, 4)]
