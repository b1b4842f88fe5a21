"""Firewall: duplicates answered with the recorded result; real, time-ordered pruning; bounded."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultnet.group import SYNCHRONISING, Firewall, FirewallEntry, FirewallState, GroupConfigError

K1, K2, K3 = b"client-a|msg-1", b"client-a|msg-2", b"client-b|msg-1"


def test_unknown_key_is_not_seen() -> None:
    fw = Firewall()
    assert not fw.seen(K1, now=0.0)
    assert fw.lookup(K1, now=0.0) is None
    assert len(fw) == 0


def test_duplicate_answered_with_recorded_result() -> None:
    fw = Firewall()
    fw.record(K1, "stored", now=5.0)
    assert fw.seen(K1, now=6.0)
    entry = fw.lookup(K1, now=6.0)
    assert entry is not None
    assert entry.result == "stored"
    assert entry.recorded_at == 5.0
    assert not fw.seen(K2, now=6.0)  # another message id from the same source is new


def test_synchronising_then_updated_to_final_result() -> None:
    fw = Firewall()
    fw.record(K1, SYNCHRONISING, now=0.0)
    entry = fw.lookup(K1, now=1.0)
    assert entry is not None
    assert entry.result is FirewallState.SYNCHRONISING
    fw.update(K1, {"ok": True}, now=2.0)
    entry = fw.lookup(K1, now=3.0)
    assert entry is not None
    assert entry.result == {"ok": True}
    assert entry.recorded_at == 0.0
    assert entry.updated_at == 2.0


def test_second_record_does_not_overwrite_first() -> None:
    fw = Firewall()
    fw.record(K1, "first", now=0.0)
    fw.record(K1, "second", now=1.0)
    entry = fw.lookup(K1, now=1.0)
    assert entry is not None
    assert entry.result == "first"
    assert len(fw) == 1


def test_entries_are_immutable_snapshots() -> None:
    fw = Firewall()
    fw.record(K1, SYNCHRONISING, now=0.0)
    before = fw.lookup(K1, now=0.0)
    assert before is not None
    fw.update(K1, "done", now=1.0)
    assert before.result is SYNCHRONISING  # a caller's entry does not change under it
    with pytest.raises(FrozenInstanceError):
        before.result = "x"  # type: ignore[misc]


def test_update_of_unknown_key_records_it() -> None:
    fw = Firewall(ttl=10.0)
    fw.update(K1, "final", now=3.0)
    entry = fw.lookup(K1, now=4.0)
    assert entry == FirewallEntry(result="final", recorded_at=3.0, updated_at=3.0)


def test_expired_entry_is_forgotten() -> None:
    fw = Firewall(ttl=10.0)
    fw.record(K1, "stored", now=0.0)
    assert fw.seen(K1, now=9.99)
    assert not fw.seen(K1, now=10.0)
    assert len(fw) == 0
    assert fw.expired == 1
    fw.record(K1, "again", now=11.0)  # after the window a repeat is handled afresh
    entry = fw.lookup(K1, now=11.0)
    assert entry is not None
    assert entry.result == "again"


def test_update_restarts_the_window() -> None:
    fw = Firewall(ttl=10.0)
    fw.record(K1, SYNCHRONISING, now=0.0)
    fw.update(K1, "final", now=8.0)
    assert fw.seen(K1, now=17.0)  # 17 s after the record, 9 s after the final answer
    assert not fw.seen(K1, now=18.0)


def test_pruning_really_removes_old_entries() -> None:
    # The C++ prune only ran at multiples of 5000 entries, and a sibling never removed anything.
    fw = Firewall(ttl=1000.0)
    for i in range(1000):
        fw.record(i.to_bytes(4, "big"), "r", now=float(i))
    assert len(fw) == 1000
    fw.prune(now=1499.5)  # everything recorded before t=499.5 is gone
    assert len(fw) == 500
    assert fw.expired == 500
    assert (499).to_bytes(4, "big") not in fw
    assert (500).to_bytes(4, "big") in fw
    fw.record(K1, "r", now=2000.0)  # an ordinary call prunes too
    assert len(fw) == 1
    assert fw.expired == 1000


def test_lookup_prunes_even_for_other_keys() -> None:
    fw = Firewall(ttl=10.0)
    fw.record(K1, "r", now=0.0)
    fw.record(K2, "r", now=1.0)
    assert fw.lookup(K3, now=30.0) is None
    assert len(fw) == 0


def test_bounded_oldest_evicted_and_counted() -> None:
    fw = Firewall(ttl=1000.0, max_entries=2)
    fw.record(K1, 1, now=0.0)
    fw.record(K2, 2, now=1.0)
    fw.record(K3, 3, now=2.0)
    assert len(fw) == 2
    assert fw.evicted == 1
    assert not fw.seen(K1, now=3.0)
    assert fw.seen(K2, now=3.0)
    assert fw.seen(K3, now=3.0)


def test_updated_entry_moves_to_the_back_for_eviction() -> None:
    fw = Firewall(ttl=1000.0, max_entries=2)
    fw.record(K1, SYNCHRONISING, now=0.0)
    fw.record(K2, "r", now=1.0)
    fw.update(K1, "final", now=2.0)
    fw.record(K3, "r", now=3.0)  # evicts K2, the least recently written
    assert fw.seen(K1, now=3.0)
    assert not fw.seen(K2, now=3.0)


@pytest.mark.parametrize("kwargs", [{"ttl": 0.0}, {"max_entries": 0}, {"max_entries": -5}])
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(GroupConfigError):
        Firewall(**kwargs)  # type: ignore[arg-type]


TTL, CAP = 10.0, 3
_op = st.tuples(
    st.sampled_from(["record", "update", "lookup"]),
    st.sampled_from([b"k0", b"k1", b"k2", b"k3", b"k4"]),
    st.integers(min_value=0, max_value=6),  # time step, so `now` never goes backwards
    st.integers(min_value=0, max_value=9),  # result
)


@given(ops=st.lists(_op, max_size=60))
def test_property_matches_a_naive_model(ops: list[tuple[str, bytes, int, int]]) -> None:
    """Against a slow model (dict + write sequence numbers): same answers, never over the cap."""
    fw = Firewall(ttl=TTL, max_entries=CAP)
    model: dict[bytes, tuple[object, float, float, int]] = {}  # result, recorded, updated, seq
    now = 0.0
    for seq, (op, key, step, result) in enumerate(ops):
        now += step
        model = {k: v for k, v in model.items() if now < v[2] + TTL}
        if op == "lookup":
            got = fw.lookup(key, now)
            want = model.get(key)
            if want is None:
                assert got is None
            else:
                assert got == FirewallEntry(result=want[0], recorded_at=want[1], updated_at=want[2])
            continue
        if key in model and op == "record":
            fw.record(key, result, now)
            continue
        if key not in model and len(model) >= CAP:
            del model[min(model, key=lambda k: model[k][3])]
        recorded = model[key][1] if key in model else now
        model[key] = (result, recorded, now, seq)
        getattr(fw, op)(key, result, now)
        assert len(fw) == len(model) <= CAP
