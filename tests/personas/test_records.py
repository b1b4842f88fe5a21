"""Typed persona records: one codec to and from the map a RecordStore keeps, writing the same
map (keys, order, values) the personas wrote before they had types."""

from __future__ import annotations

import pytest

from vaultnet.personas.pmid_manager import rank
from vaultnet.personas.records import ChunkPuts, MaidAccount, PmidAccount
from vaultnet.storage.records import encode


@pytest.mark.parametrize("record, raw", [
    (MaidAccount(3, 1 << 40), {"used": 3, "allowance": 1 << 40}),
    (ChunkPuts(2, 4000), {"count": 2, "size": 4000}),
    (PmidAccount(5000, 1000, 2), {"stored": 5000, "lost": 1000, "count": 2}),
])
def test_a_record_round_trips_as_the_map_it_replaced(record: object, raw: dict[str, int]) -> None:
    cls = type(record)
    assert cls.from_record(raw) == record  # type: ignore[attr-defined]
    stored = record.to_record()  # type: ignore[attr-defined]
    assert stored == raw and list(stored) == list(raw)
    assert encode(stored) == encode(raw)


def test_a_malformed_record_is_refused_and_extra_keys_ignored() -> None:
    with pytest.raises(KeyError):
        PmidAccount.from_record({"stored": 1, "lost": 0})
    assert PmidAccount.from_record({"stored": 1, "lost": 0, "count": 1, "x": 9}) == \
        PmidAccount(1, 0, 1)


def test_the_typed_rank_is_the_stored_accounts_rank() -> None:
    for account in (PmidAccount(), PmidAccount(4000, 1000, 1), PmidAccount(0, 10, 0)):
        assert account.rank == rank(account.to_record())
    assert PmidAccount().rank == 1.0 and PmidAccount(4000, 1000, 1).rank == 0.8
