"""Read-only readings of one vault's persona state, for the control port, the dashboard and the
benches: what they show without reaching into a vault's application or its personas' stores.
(Group-wide facts, by the testnet's oracle, are in `vaultnet.runtime.inspection`.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vaultnet.runtime.host import PersonaHost
from vaultnet.runtime.vault import Vault
from vaultnet.xor import Name


def personas_of(vault: Vault) -> PersonaHost | None:
    """The persona host `vault` runs, if it runs one."""
    application = vault.application
    return application if isinstance(application, PersonaHost) else None


def pmid_accounts(vault: Vault) -> Iterator[tuple[Name, dict[str, Any]]]:
    """(node, account record) for every storage account `vault`'s PmidManager keeps."""
    host = personas_of(vault)
    if host is not None:
        yield from host.pmid_manager.accounts.items()


def version_record(vault: Vault, key: Name) -> dict[str, Any] | None:
    """The version tree record `vault`'s VersionManager stores at `key`, if any."""
    host = personas_of(vault)
    return None if host is None else host.version_manager.trees.get(key)


def holds_message(vault: Vault, key: bytes) -> bool:
    """Whether `vault`'s MpidManager holds the message at inbox key `key`."""
    host = personas_of(vault)
    return host is not None and host.mpid_manager.inbox.get(key) is not None


def bounded_tables(vault: Vault) -> dict[str, int]:
    """Entries in each bounded in-memory table of `vault` (docs/budgets.md): the routing's
    seen table and relay cache, and its personas' accumulators, firewalls, syncs, content
    stash (also in KiB), payloads waited for and transfers pending."""
    sizes = {"seen": len(vault.router.seen), "cache": len(vault.cache)}
    host = personas_of(vault)
    if host is None:
        return sizes
    personas = list(host.personas.values())
    stores = {id(p.stash.store): p.stash.store for p in personas}
    sizes["stash"] = sum(len(s) for s in stores.values())
    sizes["stash_kib"] = sum(s.bytes for s in stores.values()) // 1024
    sizes["accumulator"] = sum(len(p.accumulator) for p in personas)
    sizes["firewall"] = sum(len(p.firewall) for p in personas)
    sizes["sync"] = sum(len(p.sync) + p.sync.done_entries() for p in personas
                        if p.sync is not None)
    sizes["waiting"] = sum(p.waiting_payloads() for p in personas)
    sizes["transfers"] = sum(p.pending_transfers() for p in personas)
    return sizes
