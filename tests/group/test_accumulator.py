"""Accumulator: fire exactly once at the quorum, never on duplicates, bounded and expiring."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultnet.group import Accumulation, Accumulator, GroupConfigError

WAITING, READY, HANDLED = Accumulation.WAITING, Accumulation.READY, Accumulation.HANDLED
A, B, C, D = b"member-a", b"member-b", b"member-c", b"member-d"


def key_of(*parts: bytes) -> bytes:
    return hashlib.sha512(b"|".join(parts)).digest()


MSG = key_of(b"msg-1", b"PutRequest", b"body", b"group-x")


def test_waiting_until_quorum_then_ready_once_then_handled() -> None:
    acc = Accumulator(quorum=3)
    assert acc.add(MSG, A, now=0.0) is WAITING
    assert acc.count(MSG, now=0.0) == 1
    assert acc.add(MSG, B, now=1.0) is WAITING
    assert acc.count(MSG, now=1.0) == 2
    assert acc.add(MSG, C, now=2.0) is READY
    assert acc.add(MSG, D, now=3.0) is HANDLED
    assert acc.count(MSG, now=3.0) == 0


def test_duplicate_from_counted_sender_after_quorum_never_refires() -> None:
    # The C++ accumulator answered "success" again here: the operation ran twice.
    acc = Accumulator(quorum=3)
    for sender in (A, B, C):
        acc.add(MSG, sender, now=0.0)
    assert acc.add(MSG, C, now=1.0) is HANDLED
    assert acc.add(MSG, A, now=1.0) is HANDLED


def test_duplicate_before_quorum_does_not_count() -> None:
    acc = Accumulator(quorum=3)
    assert acc.add(MSG, A, now=0.0) is WAITING
    assert acc.add(MSG, A, now=0.0) is WAITING
    assert acc.add(MSG, A, now=0.0) is WAITING
    assert acc.count(MSG, now=0.0) == 1
    assert acc.add(MSG, B, now=0.0) is WAITING
    assert acc.add(MSG, B, now=0.0) is WAITING
    assert acc.add(MSG, C, now=0.0) is READY


def test_differing_contents_never_accumulate_together() -> None:
    acc = Accumulator(quorum=3)
    cheap = key_of(b"msg-1", b"PutResponse", b"cost=10", b"group-x")
    dear = key_of(b"msg-1", b"PutResponse", b"cost=99", b"group-x")
    other_group = key_of(b"msg-1", b"PutResponse", b"cost=10", b"group-y")
    assert acc.add(cheap, A, now=0.0) is WAITING
    assert acc.add(dear, B, now=0.0) is WAITING
    assert acc.add(other_group, C, now=0.0) is WAITING
    assert acc.add(dear, D, now=0.0) is WAITING
    assert len(acc) == 3
    assert acc.add(cheap, B, now=0.0) is WAITING
    assert acc.add(cheap, C, now=0.0) is READY
    assert acc.add(dear, A, now=0.0) is READY  # each key has its own quorum


def test_quorum_of_one_fires_on_first_copy() -> None:
    acc = Accumulator(quorum=1)
    assert acc.add(MSG, A, now=0.0) is READY
    assert acc.add(MSG, A, now=0.0) is HANDLED
    assert acc.add(MSG, B, now=0.0) is HANDLED


def test_waiting_entry_expires_and_starts_over() -> None:
    acc = Accumulator(quorum=3, ttl=10.0)
    acc.add(MSG, A, now=0.0)
    acc.add(MSG, B, now=5.0)
    # At t=10 the entry (first copy at t=0) is gone: C is the first copy of a new round.
    assert acc.add(MSG, C, now=10.0) is WAITING
    assert acc.count(MSG, now=10.0) == 1
    assert acc.expired == 1
    assert acc.add(MSG, A, now=11.0) is WAITING
    assert acc.add(MSG, B, now=12.0) is READY


def test_fired_entry_remembered_for_ttl_after_firing() -> None:
    acc = Accumulator(quorum=3, ttl=10.0)
    acc.add(MSG, A, now=0.0)
    acc.add(MSG, B, now=8.0)
    assert acc.add(MSG, C, now=9.0) is READY
    # Ten seconds after the first copy, but only five after firing: still handled.
    assert acc.add(MSG, D, now=14.0) is HANDLED
    assert acc.add(MSG, D, now=18.9) is HANDLED
    # After ttl from firing it is forgotten: a copy starts a new round.
    assert acc.add(MSG, D, now=19.0) is WAITING
    assert acc.expired == 1


def test_expire_removes_old_entries() -> None:
    acc = Accumulator(quorum=3, ttl=10.0)
    for i in range(5):
        acc.add(key_of(b"m", bytes([i])), A, now=float(i))
    assert len(acc) == 5
    acc.expire(now=12.0)  # entries born at 0, 1, 2 are >= 10 s old
    assert len(acc) == 2
    assert acc.expired == 3
    assert key_of(b"m", bytes([2])) not in acc
    assert key_of(b"m", bytes([3])) in acc
    acc.expire(now=100.0)
    assert len(acc) == 0
    assert acc.expired == 5


def test_adding_prunes_expired_entries() -> None:
    acc = Accumulator(quorum=3, ttl=10.0)
    for i in range(100):
        acc.add(key_of(b"m", i.to_bytes(2, "big")), A, now=0.0)
    acc.add(MSG, A, now=50.0)
    assert len(acc) == 1


def test_bounded_oldest_evicted_and_counted() -> None:
    acc = Accumulator(quorum=2, ttl=1000.0, max_entries=3)
    keys = [key_of(b"m", bytes([i])) for i in range(5)]
    for t, k in enumerate(keys):
        acc.add(k, A, now=float(t))
    assert len(acc) == 3
    assert acc.evicted == 2
    assert keys[0] not in acc
    assert keys[1] not in acc
    assert all(k in acc for k in keys[2:])
    # The evicted key starts over: its earlier copy from A is gone.
    assert acc.add(keys[0], B, now=10.0) is WAITING
    assert acc.count(keys[0], now=10.0) == 1
    assert acc.evicted == 3


def test_fired_entry_moves_behind_younger_ones_for_eviction() -> None:
    acc = Accumulator(quorum=2, ttl=1000.0, max_entries=2)
    old, young, newest = key_of(b"old"), key_of(b"young"), key_of(b"newest")
    acc.add(old, A, now=0.0)
    acc.add(young, A, now=1.0)
    assert acc.add(old, B, now=2.0) is READY  # old fired: it is now the most recent
    acc.add(newest, A, now=3.0)  # evicts `young`, not the just-fired `old`
    assert old in acc
    assert young not in acc
    assert acc.add(old, C, now=4.0) is HANDLED


@pytest.mark.parametrize(
    "kwargs",
    [{"quorum": 0}, {"ttl": 0.0}, {"ttl": -1.0}, {"max_entries": 0}],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(GroupConfigError):
        Accumulator(**kwargs)  # type: ignore[arg-type]


SENDERS = [bytes([i]) * 8 for i in range(6)]


@given(
    copies=st.lists(st.sampled_from(SENDERS), max_size=30),
    quorum=st.integers(min_value=1, max_value=5),
)
def test_property_ready_exactly_once_iff_quorum_distinct(copies: list[bytes], quorum: int) -> None:
    """Any order of copies and duplicates: READY fires once iff >= quorum distinct senders,
    exactly at the copy that brings the quorum-th new sender; WAITING before, HANDLED after."""
    acc = Accumulator(quorum=quorum)
    results = [acc.add(MSG, sender, now=float(i)) for i, sender in enumerate(copies)]

    distinct: list[bytes] = []
    fire_at = None
    for i, sender in enumerate(copies):
        if sender not in distinct:
            distinct.append(sender)
            if len(distinct) == quorum:
                fire_at = i
    assert results.count(READY) == (1 if len(set(copies)) >= quorum else 0)
    if fire_at is None:
        assert all(r is WAITING for r in results)
    else:
        assert results[fire_at] is READY
        assert all(r is WAITING for r in results[:fire_at])
        assert all(r is HANDLED for r in results[fire_at + 1 :])
