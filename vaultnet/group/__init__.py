"""Sans-IO group mechanisms: accumulation, firewall and sync (DESIGN.md §3).

None of these touch I/O or clocks: the vault runtime passes `now` and sends the messages.
"""

from vaultnet.group.accumulator import Accumulation, Accumulator, GroupConfigError
from vaultnet.group.firewall import SYNCHRONISING, Firewall, FirewallEntry, FirewallState
from vaultnet.group.sync import Sync, SyncResolved

__all__ = [
    "SYNCHRONISING",
    "Accumulation",
    "Accumulator",
    "Firewall",
    "FirewallEntry",
    "FirewallState",
    "GroupConfigError",
    "Sync",
    "SyncResolved",
]
