"""The per-message path's shortcuts give the answers of the slow path: routing answers kept
until the peer set changes, closest without a key function, one transaction per batch of
handled messages that still sends nothing before its commit."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from vaultnet.identity import Identity
from vaultnet.messages import ID_SIZE, Authority, Message, Persona
from vaultnet.personas.effects import Outbox
from vaultnet.routing import NEAREST_CACHE, Parameters, RoutingTable
from vaultnet.runtime import events as ev
from vaultnet.runtime.host import DB_FILE, PersonaHost
from vaultnet.runtime.vault import Vault
from vaultnet.storage.store import Database, RecordStore, StoreError
from vaultnet.transport.tcp import TcpEndpoint
from vaultnet.wire import FrameError
from vaultnet.xor import Name, bucket_index, closest, distance


def sorted_by_key(target: Name, names: list[Name]) -> list[Name]:
    """The reference order: a key function per name."""
    return sorted(names, key=lambda n: distance(n, target))


@pytest.mark.parametrize("k", [None, 0, 1, 4, 40])
def test_closest_matches_a_key_sort_for_any_iterable(k: int | None) -> None:
    rng = random.Random(k)
    names = [rng.randbytes(64) for _ in range(33)]
    target = rng.randbytes(64)
    expected = sorted_by_key(target, names)[:k]
    assert closest(target, names, k) == expected
    assert closest(target, tuple(names), k) == expected
    assert closest(target, set(names), k) == expected
    assert closest(target, iter(names), k) == expected
    assert closest(target, [], k) == []


def brute_close_group(table: RoutingTable, target: Name) -> list[Name]:
    names = [n for n in [*table.peers, table.own] if n != target]
    return sorted_by_key(target, names)[:table.params.group_size]


def brute_next_hop(table: RoutingTable, target: Name) -> Name | None:
    if not table.peers:
        return None
    best = sorted_by_key(target, table.peers)[0]
    return best if distance(best, target) < distance(table.own, target) else None


def test_routing_answers_follow_every_change_of_the_peer_set() -> None:
    rng = random.Random(7)
    table = RoutingTable(rng.randbytes(64), Parameters(max_peers=24))
    targets = [rng.randbytes(64) for _ in range(NEAREST_CACHE + 8)]
    for step in range(120):
        if table.peers and rng.random() < 0.3:
            table.remove(rng.choice(table.peers))
        else:
            table.add(rng.randbytes(64), f"127.0.0.1:{1000 + step}")
        asked = [*rng.sample(targets, 12), *rng.sample(table.peers, min(2, len(table))),
                 table.own]
        for target in asked:
            for _ in range(2):  # the second answer comes from what the first kept
                assert table.close_group(target) == brute_close_group(table, target)
                assert table.is_responsible(target) == (
                    table.own in brute_close_group(table, target))
                assert table.next_hop(target) == brute_next_hop(table, target)
        assert table.proximity() == tuple(
            sorted_by_key(table.own, table.peers)[:table.params.proximity_size])
        counts: dict[int, int] = {}
        for p in table.peers:
            counts[bucket_index(table.own, p)] = counts.get(bucket_index(table.own, p), 0) + 1
        assert table.bucket_counts() == counts
        assert len(table._nearest) <= NEAREST_CACHE


def test_savepoint_undoes_only_its_own_step_and_costs_nothing_unless_it_writes(
        tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    records = RecordStore(db, "maid_accounts")
    statements: list[str] = []
    db.connection.set_trace_callback(statements.append)
    with pytest.raises(StoreError), db.savepoint():
        pass  # only inside a transaction
    with db.transaction():
        with db.savepoint():
            records.put(b"kept", 1)
        with db.savepoint():
            assert records.get(b"kept") == 1  # reads only: no savepoint taken
        with pytest.raises(FrameError), db.savepoint():
            records.put(b"undone", 2)
            records.put(b"kept", 99)
            raise FrameError("refused")
        with pytest.raises(FrameError), db.savepoint():
            raise FrameError("refused before writing: nothing to undo")
        with db.savepoint(), pytest.raises(StoreError), db.savepoint():
            pass  # steps do not nest
        with db.savepoint():
            records.put(b"after", 3)
    assert records.keys() == [b"after", b"kept"] and records.get(b"kept") == 1
    assert sum(s.startswith("SAVEPOINT") for s in statements) == 3
    db.close()


def request(i: int, action: str) -> Message:
    return Message(src=Authority(bytes([i]) * 64, Persona.MAID_NODE),
                   dst=Authority(bytes(64), Persona.MAID_MANAGER, group=True), action=action,
                   msg_id=bytes([i]) * ID_SIZE, trace_id=bytes(ID_SIZE), body={},
                   sender=bytes([i]) * 64)


async def test_a_batch_commits_before_anything_it_answers_is_sent(tmp_path: Path) -> None:
    """The local pump handles messages in one transaction: what they send (acknowledgements
    included) leaves only once every write of the batch is on disk, and a refused message
    leaves no write behind."""
    identity = Identity.generate()
    vault = Vault(identity, TcpEndpoint(identity), ev.EventBus())
    host = PersonaHost(vault, tmp_path)
    vault.attach(host)
    accounts = RecordStore(host.db, "maid_accounts")

    def handle(msg: Message, ctx: object) -> Outbox:
        accounts.put(msg.msg_id, msg.action)
        if msg.action == "refused":
            raise FrameError("refused")
        out = Outbox()
        out.send(msg)
        return out

    sent: list[tuple[bytes, list[bytes]]] = []

    def send(msg: Message) -> None:
        other = sqlite3.connect(tmp_path / DB_FILE)  # what a restart would find on disk
        keys = [row[0] for row in other.execute("SELECT key FROM records_maid_accounts")]
        other.close()
        sent.append((msg.msg_id, sorted(keys)))

    host.maid_manager.handle = handle  # type: ignore[method-assign]
    vault.send = send  # type: ignore[method-assign]
    messages = [request(1, "put"), request(2, "refused"), request(3, "put")]
    with host.batch():
        for msg in messages:
            vault.delivery.dispatch(msg)
        assert sent == []
    on_disk = sorted([messages[0].msg_id, messages[2].msg_id])
    assert sent == [(messages[0].msg_id, on_disk), (messages[2].msg_id, on_disk)]
    assert vault.dropped == 1
    host.close()


def test_a_remembered_verification_never_lets_a_forgery_through(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A verified signature is looked up the second time (no arithmetic); a forged signature
    of the same data by the same key, or the genuine one over other data, is still refused,
    however often the genuine triple was verified; the memory stays bounded."""
    import nacl.bindings

    from vaultnet import identity

    calls = [0]
    real_open = nacl.bindings.crypto_sign_open

    def counted(signed: bytes, key: bytes) -> bytes:
        calls[0] += 1
        return real_open(signed, key)

    monkeypatch.setattr(identity.nacl.bindings, "crypto_sign_open", counted)
    signer = Identity.generate(bytes(32))
    data = b"header bytes of one message"
    good = signer.sign(data)
    identity.verify(signer.verify_key, good, data)
    identity.verify(signer.verify_key, good, data)
    assert calls[0] == 1
    forged = bytes([good[0] ^ 1]) + good[1:]
    for _ in range(3):
        with pytest.raises(identity.IdentityError):
            identity.verify(signer.verify_key, forged, data)
        with pytest.raises(identity.IdentityError):
            identity.verify(signer.verify_key, good, data + b"!")
        with pytest.raises(identity.IdentityError):
            identity.verify(Identity.generate(bytes([1]) * 32).verify_key, good, data)
    assert calls[0] == 1 + 9
    for i in range(identity.VERIFIED_KEPT + 10):
        payload = i.to_bytes(4, "big")
        identity.verify(signer.verify_key, signer.sign(payload), payload)
    assert len(identity._verified) == identity.VERIFIED_KEPT


def test_canonical_encoding_is_the_same_with_remembered_keys() -> None:
    """The remembered key encodings sort maps exactly as packing each key does."""
    import msgpack

    from vaultnet.storage import records

    value = {"zeta": 1, "a": [{"b": 2, "aa": 3}], 7: "x", "mid": {"k2": 1, "k1": 2}}
    expected = msgpack.packb(
        {7: "x", "a": [{"b": 2, "aa": 3}], "mid": {"k1": 2, "k2": 1}, "zeta": 1},
        use_bin_type=True)
    assert records.encode(value) == expected
    assert records.encode(dict(reversed(list(value.items())))) == expected
