"""The file-descriptor budget of a testnet process: what its vaults can hold open at their caps,
checked against the process limit before any socket is opened, so a testnet too large for the
limit is refused in one line instead of failing later with EMFILE.

Per TCP vault: its listener, `MAX_VAULT_CONNECTIONS` vault links (registered and being dialled),
the `MAX_HANDSHAKES` inbound connections its listener handshakes at once (a further one pushes
out the oldest) and its sqlite files (database, WAL, shared memory). A simulated vault opens
no socket, only its sqlite files. Per process: the client connections all its vaults serve
together (`MAX_PROCESS_CLIENTS`, or their caps if fewer), and `MARGIN` for the rest (stdio,
trio's epoll and wake-up pair, the event recording, the address file, the testnet's own
clients). The caller adds what it serves besides the vaults (the control port: `vaultnet.control`).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

from vaultnet.runtime.links import (
    MAX_CLIENT_CONNECTIONS,
    MAX_PROCESS_CLIENTS,
    MAX_VAULT_CONNECTIONS,
)
from vaultnet.transport.tcp import MAX_HANDSHAKES

SQLITE_FILES = 3
"""Descriptors a vault's database holds: the file, its WAL and its shared-memory index."""
MARGIN = 64
"""Descriptors for everything else in the process (stdio, trio's epoll and wake-up socket
pair, the `--record` file, the address and token files, the testnet's own few clients)."""


def per_vault(transport: str) -> int:
    """Descriptors one vault holds at its caps: listener, links, handshakes, sqlite."""
    if transport == "sim":
        return SQLITE_FILES
    return 1 + MAX_VAULT_CONNECTIONS + MAX_HANDSHAKES + SQLITE_FILES


def needed(vaults: int, transport: str) -> int:
    """Descriptors a process running `vaults` vaults needs at their caps, margin included."""
    clients = (0 if transport == "sim"
               else min(vaults * MAX_CLIENT_CONNECTIONS, MAX_PROCESS_CLIENTS))
    return vaults * per_vault(transport) + clients + MARGIN


@dataclass(frozen=True)
class Shortage:
    """A process limit below what a testnet needs: `needed` descriptors, `available` allowed."""

    needed: int
    available: int

    def __str__(self) -> str:
        return (f"needs {self.needed:,} file descriptors at the vaults' connection caps, but "
                f"this process may open only {self.available:,} (ulimit -n, hard limit)")


def reserve(count: int) -> Shortage | None:
    """Make sure this process may open `count` descriptors, raising the soft limit toward the
    hard limit when it is lower; the shortage if even the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or count <= soft:
        return None
    if hard != resource.RLIM_INFINITY and count > hard:
        return Shortage(count, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))
    except (ValueError, OSError):
        return Shortage(count, soft)
    return None
