"""Sans-IO group mechanisms: accumulation, firewall, sync, contested votes, and what lookups
found near groups.

None of these touch I/O or clocks: the vault runtime passes `now` and sends the messages.
"""

from vaultnet.group.accumulator import Accumulation, Accumulator, GroupConfigError
from vaultnet.group.contest import Contests, Revote
from vaultnet.group.firewall import SYNCHRONISING, Firewall, FirewallEntry, FirewallState
from vaultnet.group.sync import Sync, SyncResolved
from vaultnet.group.views import Ball, GroupViews

__all__ = [
    "SYNCHRONISING",
    "Accumulation",
    "Accumulator",
    "Ball",
    "Contests",
    "Firewall",
    "FirewallEntry",
    "FirewallState",
    "GroupConfigError",
    "GroupViews",
    "Revote",
    "Sync",
    "SyncResolved",
]
