"""Per-vault budgets: every table keeps to its entry bound and forgets by time (sans-IO), and a
small simulated testnet gives its memory back once the puts stop (docs/budgets.md)."""

from __future__ import annotations

import gc
import os
import platform
from pathlib import Path

import pytest
import trio

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx, Manager
from vaultnet import Testnet
from vaultnet.bench.memory import main as bench_memory_main
from vaultnet.bench.memory import table_sizes
from vaultnet.cli.main import main as vaultnet_main
from vaultnet.group import Accumulation, Accumulator, Firewall, Sync
from vaultnet.group.accumulator import ACCUMULATOR_ENTRIES, ACCUMULATOR_TTL
from vaultnet.group.firewall import FIREWALL_ENTRIES, FIREWALL_TTL
from vaultnet.group.sync import SYNC_ENTRIES, SYNC_TTL
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.account_transfer import TRANSFER_TTL, TRANSFERS_PENDING
from vaultnet.personas.base import share_stash
from vaultnet.personas.bodies import TransferBody, TransferItem
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.payload_wanted import WAITING_LIMIT, WAITING_TTL
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import PmidNode
from vaultnet.personas.stash import STASH_TTL, StashStore
from vaultnet.runtime import events as ev
from vaultnet.runtime.allocator import limit_fragmentation
from vaultnet.runtime.cache import CACHE_ENTRIES, CACHE_TTL, RelayCache
from vaultnet.runtime.collector import FULL_PASS_AFTER
from vaultnet.runtime.router import SEEN_WINDOW
from vaultnet.storage.records import encode
from vaultnet.storage.store import ChunkStore, CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import Name, name_of

NODE = MEMBERS[0]
CONTENT = b"budget" * 100
COPY = copy_name(name_of(CONTENT), CopyKind.PRIMARY)


# -- the payload stash ---------------------------------------------------------------------


def test_stash_keeps_to_its_byte_budget_oldest_first() -> None:
    store = StashStore(max_bytes=1000, max_entries=100, ttl=10.0)
    store.expire(0.0)
    for i in range(5):
        store.put(bytes([i]), b"x" * 300)
    assert store.bytes == 900 and len(store) == 3
    assert store.get(bytes([0])) is None and store.get(bytes([1])) is None
    assert store.get(bytes([4])) == b"x" * 300


def test_stash_keeps_to_its_entry_budget() -> None:
    store = StashStore(max_bytes=1 << 20, max_entries=4, ttl=10.0)
    for i in range(10):
        store.put(bytes([i]), b"y")
    assert len(store) == 4 and store.bytes == 4
    assert store.get(bytes([5])) is None and store.get(bytes([6])) == b"y"


def test_stash_forgets_by_time_without_new_puts() -> None:
    store = StashStore(ttl=STASH_TTL)
    store.expire(100.0)
    store.put(b"a", CONTENT)
    store.expire(100.0 + STASH_TTL / 2)
    store.put(b"b", CONTENT)
    store.expire(100.0 + STASH_TTL)
    assert store.get(b"a") is None and store.get(b"b") == CONTENT
    assert len(store) == 1 and store.bytes == len(CONTENT)
    store.expire(100.0 + 2 * STASH_TTL)
    assert len(store) == 0 and store.bytes == 0


def test_content_leaves_with_its_last_hold() -> None:
    store = StashStore()
    store.put(COPY, CONTENT)
    store.put(COPY, CONTENT)  # two agreed requests need this content
    store.release(COPY)
    assert store.get(COPY) == CONTENT
    store.release(COPY)
    assert store.get(COPY) is None and store.bytes == 0


def test_personas_of_a_vault_share_one_budget_but_not_their_keys(tmp_path: Path) -> None:
    db = Database(tmp_path / "v.db")
    pm = PmidManager(PARAMS, RecordStore(db, "pmid_accounts"))
    mm = MaidManager(PARAMS, RecordStore(db, "maid_accounts"), RecordStore(db, "maid_chunks"))
    store = share_stash([pm, mm])
    pm.stash.put(COPY, CONTENT)
    mm.stash.put(COPY, b"other")
    assert len(store) == 2 and store.bytes == len(CONTENT) + len(b"other")
    mm.stash.discard(COPY)
    assert pm.stash.get(COPY) == CONTENT and mm.stash.get(COPY) is None


# -- content released once used, waiting payloads and transfers -------------------------------


def _store_message(sender: Name, payload: bytes = b"", copy: bytes = COPY) -> Message:
    return Message(src=Authority(NODE, Persona.PMID_MANAGER, group=True),
                   dst=Authority(NODE, Persona.PMID_NODE), action="store",
                   msg_id=name_of(copy)[:16], trace_id=bytes(16), sender=sender, payload=payload,
                   body={"copy": copy, "kind": "P", "size": len(CONTENT)})


@pytest.fixture
def node(tmp_path: Path) -> PmidNode:
    persona = PmidNode(PARAMS, ChunkStore(Database(tmp_path / "node.db"), 1 << 20))
    persona.attach(NODE)
    share_stash([persona])
    return persona


def test_matched_content_is_released_once_the_message_is_agreed(node: PmidNode) -> None:
    clock = [0.0]
    ctx = Ctx(NODE, clock)
    lead, *others = ctx.close_group(NODE)
    node.handle(_store_message(lead, CONTENT), ctx)  # the lead's copy comes first
    assert len(node.stash.store) == 1
    for member in others:
        node.handle(_store_message(member), ctx)
    assert node.chunks.has(COPY)
    assert len(node.stash.store) == 0 and node.stash.store.bytes == 0


def test_waiting_payloads_are_bounded_and_forgotten(node: PmidNode) -> None:
    clock = [0.0]
    ctx = Ctx(NODE, clock)
    for i in range(WAITING_LIMIT + 20):  # agreed without content, none ever arrives
        copy = copy_name(name_of(i.to_bytes(4, "big")), CopyKind.PRIMARY)
        for member in ctx.close_group(NODE):
            node.handle(_store_message(member, copy=copy), ctx)
    assert node.waiting_payloads() == WAITING_LIMIT
    clock[0] = WAITING_TTL / 2
    node.resend(ctx)
    assert node.waiting_payloads() == WAITING_LIMIT
    clock[0] = WAITING_TTL
    node.resend(ctx)
    assert node.waiting_payloads() == 0



def _transfer(sender: Name, key: bytes, value: dict[str, object]) -> Message:
    return Message(src=Authority(sender, Persona.MAID_MANAGER),
                   dst=Authority(NODE, Persona.MAID_MANAGER), action="transfer",
                   msg_id=name_of(key + sender)[:16], trace_id=bytes(16), sender=sender,
                   body=TransferBody([TransferItem("accounts", key, encode(value))], []).encode())


def test_disputed_transfers_are_forgotten_after_their_window(tmp_path: Path) -> None:
    manager = Manager(RecordStore(Database(tmp_path / "t.db"), "accounts"))
    manager.attach(NODE)
    clock = [0.0]
    ctx = Ctx(NODE, clock)
    a, b = MEMBERS[1:3]
    for i in range(3):
        key = GROUP + bytes([i])
        manager.handle(_transfer(a, key, {"owner": "one"}), ctx)
        manager.handle(_transfer(b, key, {"owner": "two"}), ctx)
    assert manager.pending_transfers() == 3
    clock[0] = TRANSFER_TTL / 2
    manager.tick_transfers(ctx)
    assert manager.pending_transfers() == 3  # nobody answered the questions: still disputed
    clock[0] = TRANSFER_TTL + 1
    manager.tick_transfers(ctx)
    assert manager.pending_transfers() == 0
    assert TRANSFERS_PENDING > 0


# -- group tables, relay cache, event buffers ----------------------------------------------


def test_accumulator_default_budget() -> None:
    acc = Accumulator()
    for i in range(ACCUMULATOR_ENTRIES + 50):
        acc.add(i.to_bytes(8, "big"), b"a", 0.0)
    assert len(acc) == ACCUMULATOR_ENTRIES and acc.evicted == 50
    assert acc.add(b"fresh", b"a", ACCUMULATOR_TTL / 2) is Accumulation.WAITING
    acc.expire(ACCUMULATOR_TTL)
    assert len(acc) == 1
    acc.expire(ACCUMULATOR_TTL * 2)
    assert len(acc) == 0


def test_firewall_default_budget() -> None:
    fw = Firewall()
    for i in range(FIREWALL_ENTRIES + 50):
        fw.record(i.to_bytes(8, "big"), "done", 0.0)
    assert len(fw) == FIREWALL_ENTRIES and fw.evicted == 50
    fw.record(b"fresh", "done", FIREWALL_TTL / 2)
    fw.prune(FIREWALL_TTL)
    assert len(fw) == 1
    fw.prune(FIREWALL_TTL * 2)
    assert len(fw) == 0


def test_sync_default_budget_live_and_done() -> None:
    sync = Sync(MEMBERS[0])
    for i in range(SYNC_ENTRIES + 50):
        sync.add_local(i.to_bytes(8, "big"), b"act", 0.0)
    assert len(sync) == SYNC_ENTRIES and sync.evicted == 50
    key = b"agreed"
    for voter in MEMBERS[:4]:  # unanimous: committed, remembered as done
        sync.add_peer(voter, key, b"act", 1.0)
    assert sync.done_entries() == 1 and sync.is_committed(key, b"act")
    sync.expire(SYNC_TTL)
    assert len(sync) == 0 and sync.done_entries() == 1
    sync.expire(1.0 + SYNC_TTL)
    assert sync.done_entries() == 0


def test_relay_cache_bounded_and_empties_when_idle() -> None:
    cache = RelayCache()
    datas = [os.urandom(64) for _ in range(CACHE_ENTRIES + 5)]
    for data in datas:
        cache.offer(copy_name(name_of(data), CopyKind.PRIMARY), data, 0.0)
    assert len(cache) == CACHE_ENTRIES
    assert cache.get(copy_name(name_of(datas[-1]), CopyKind.PRIMARY), 1.0) == datas[-1]
    cache.expire(CACHE_TTL / 2)
    assert len(cache) == CACHE_ENTRIES
    cache.expire(CACHE_TTL + 1)
    assert len(cache) == 0 and cache.bytes == 0


def test_subscription_buffer_is_bounded() -> None:
    bus = ev.EventBus()
    with pytest.raises(ev.SubscriptionError):
        bus.subscribe(0)
    with pytest.raises(ev.SubscriptionError):
        bus.subscribe(ev.SUBSCRIPTION_LIMIT + 1)
    sub = bus.subscribe(3)
    for i in range(5):
        bus.emit(ev.VaultUp(float(i), b"v"))
    assert sub.dropped == 2
    assert [sub.receive_nowait().time for _ in range(3)] == [0.0, 1.0, 2.0]
    sub.close()
    bus.emit(ev.VaultUp(9.0, b"v"))
    assert sub.dropped == 2  # a closed subscription holds nothing more


# -- a small testnet gives its memory back ------------------------------------------------------

PUTS = 12
IDLE = max(ACCUMULATOR_TTL, FIREWALL_TTL, STASH_TTL, SEEN_WINDOW) + 30
SETTLED_BOUND = 200
"""Entries left over the whole testnet after the idle period: what maintenance (integrity
checks, neighbourhood refresh) keeps passing, far below what the puts left behind."""


def _held(net: Testnet) -> int:
    sizes = table_sizes(net.vaults)
    return sizes["stash"] + sizes["seen"] + sizes["accumulator"] + sizes["firewall"]


async def test_tables_fall_back_after_puts_and_an_idle_period(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=31) as net:
        client = await net.client()
        for i in range(PUTS):
            await client.put(os.urandom(2048) + bytes([i]))
        busy = table_sizes(net.vaults)  # the puts did fill every one of these tables
        assert all(busy[table] > 0 for table in ("stash", "seen", "accumulator", "firewall"))
        assert _held(net) > 10 * SETTLED_BOUND, busy
        await trio.sleep(IDLE)  # simulated: memory must follow the traffic of the window
        sizes = table_sizes(net.vaults)
        assert sizes["stash"] == 0 and sizes["stash_kib"] == 0
        assert _held(net) < SETTLED_BOUND, sizes


def test_bench_memory_refuses_a_warmup_longer_than_the_run(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench_memory_main(["--puts", "10", "--warmup", "20"])
    assert exit_info.value.code == 2
    assert "--warmup" in capsys.readouterr().err


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_allocator_threshold_is_set_on_glibc() -> None:
    """The commands' anti-fragmentation setting really reaches glibc (mallopt returns 1)."""
    assert limit_fragmentation() is True


def test_the_commands_space_the_collectors_passes(tmp_path: Path) -> None:
    """A `vaultnet` command (here one that fails: no testnet) runs with chances of a full
    collection spaced out, the young and middle generations' thresholds left as they were."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 7, 10)
    try:
        assert vaultnet_main(["ctl", "--data-dir", str(tmp_path), "status"]) == 1
        assert gc.get_threshold() == (700, 7, FULL_PASS_AFTER)
    finally:
        gc.set_threshold(*saved)
