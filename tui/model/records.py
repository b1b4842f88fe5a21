"""The plain records the views draw: a vault's row, a chunk, the XOR view's rows, a step of the
space-time view, a version tree, a structured data record, a message, the summary, and a
`Sample` of the network."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaultnet.control.reading import GroupMember, VersionedState
from vaultnet.personas.version_tree import VersionName
from vaultnet.xor import Name


@dataclass(frozen=True)
class VaultRow:
    """One row of view 1: a vault as last sampled."""

    name: Name
    state: str  # "up", "down", or the faults it carries ("lie", "silent", ...)
    stored: int
    capacity: int
    copies: dict[str, int]  # "P" / "B" / "S" -> count
    rank: float | None  # from its PmidManagers' account; None before it held anything
    rate_in: float
    rate_out: float
    peers: int
    close_group: tuple[Name, ...] = ()  # its own view of the group of its name
    account: dict[str, int] = field(default_factory=dict)  # what its PmidManagers record
    holds: tuple[tuple[Name, str, int], ...] = ()  # (copy, kind, size), first reading.HOLDS_SHOWN


@dataclass
class ChunkInfo:
    """A chunk the dashboard put, and who holds each kind of copy."""

    name: Name
    size: int
    trace: bytes
    deleted: bool = False
    holders: dict[str, list[Name]] = field(default_factory=dict)  # kind -> vaults holding it

    @property
    def lost(self) -> bool:
        """Not deleted, sampled, and no copy held anywhere."""
        return not self.deleted and bool(self.holders) and not any(self.holders.values())


@dataclass(frozen=True)
class XorRow:
    """One vault near the focused name: how many leading bits it shares with it, what it holds."""

    name: Name
    shared_bits: int
    log2_distance: float
    holds: str  # the kind of the copy it holds ("P", "B", "S"), or ""


@dataclass(frozen=True)
class XorBlock:
    """A target name (a copy of the focused chunk, or a vault) and the vaults nearest it."""

    label: str
    target: Name
    rows: list[XorRow]


@dataclass(frozen=True)
class FlowStep:
    """One row of the space-time view: a message between persona lanes, or a mark on a lane.

    A lane is a persona and, for the messaging personas, a side: whose MpidNode or MpidManager
    group it is ("alice", "bob", or a name prefix), so a message crosses from the sender's
    managers to the recipient's."""

    time: float
    src: str
    dst: str  # == src (and dst_side == src_side) for a mark (accumulated, sync, stored ...)
    label: str
    count: int = 1
    src_side: str = ""
    dst_side: str = ""

    @property
    def src_lane(self) -> tuple[str, str]:
        """The lane the step starts on: (persona, side)."""
        return self.src, self.src_side

    @property
    def dst_lane(self) -> tuple[str, str]:
        """The lane the step ends on: (persona, side)."""
        return self.dst, self.dst_side


@dataclass
class VersionedItem:
    """A version tree the dashboard has seen, as most of its VersionManager group holds it."""

    key: Name
    label: str
    trace: bytes | None = None  # the latest operation on it
    parents: dict[VersionName, VersionName | None] = field(default_factory=dict)
    root: VersionName | None = None
    tips: frozenset[VersionName] = frozenset()
    group: tuple[GroupMember, ...] = ()
    strays: tuple[Name, ...] = ()  # vaults outside the group still holding a copy of it
    sampled: bool = False

    @property
    def agreeing(self) -> int:
        """How many members of its group hold the same tree."""
        return sum(1 for m in self.group if m.state == "agrees")

    def children(self, version: VersionName) -> list[VersionName]:
        """`version`'s children, in order."""
        return sorted(v for v, p in self.parents.items() if p == version)

    def starts(self) -> list[VersionName]:
        """The root, then the orphans (versions whose parent is not in the tree)."""
        orphans = sorted(v for v, p in self.parents.items()
                         if v != self.root and (p is None or p not in self.parents))
        return ([self.root] if self.root is not None else []) + orphans

    def newest_tip(self) -> VersionName | None:
        """The newest tip, or None for an empty tree."""
        return max(self.tips, default=None)


@dataclass(frozen=True)
class StructuredRow:
    """A structured data record as most of its VersionManager group holds it (view 6)."""

    name: Name
    owner: bytes  # the owner's verify key
    mine: bool  # owned by the dashboard's own client (its updates and deletes are accepted)
    version: int
    size: int  # bytes of data
    group: tuple[Name, ...]  # its VersionManager group (the vaults nearest its name)
    holding: int  # members of the group holding this version


@dataclass
class MessageInfo:
    """A message between two MPIDs: sent from the dashboard, or seen in the managers' events."""

    trace: bytes  # the send operation
    sender: Name
    recipient: Name
    text: str
    mid: bytes | None = None
    state: str = "sending"  # sending, held, delivered, refused, failed
    reason: str = ""
    held_by: tuple[Name, ...] = ()  # the MpidManagers holding it, as last sampled
    received: bool = False  # the dashboard's MpidNode for the recipient got it
    delivery_trace: bytes | None = None  # the operation that delivered it (a push on return)


@dataclass
class Summary:
    """The summary bar: counts over the whole network."""

    vaults_up: int = 0
    vaults_down: int = 0
    chunks: int = 0
    msgs_per_s: float = 0.0
    evictions: int = 0
    lost: int = 0
    churn: int = 0
    events: int = 0


@dataclass(frozen=True)
class Sample:
    """What one `observe` read off the live network, already reduced to what the views show,
    so a recording can keep it and a replay can apply it without a network. Bounded: a row
    per vault (`vaultnet.control.reading.HOLDS_SHOWN` copies each), holders of the tracked chunks
    (CHUNKS_KEPT), the tracked trees (VERSIONED_KEPT), the newest MESSAGES_SAMPLED
    messages and the structured data records (each at most 64 KiB of data, not kept here)."""

    live: tuple[Name, ...]  # the vaults up, in the testnet's order
    rows: tuple[VaultRow, ...]  # one per live vault
    ranks: tuple[tuple[Name, float], ...]  # every node with a PmidManager account
    holders: tuple[tuple[Name, dict[str, list[Name]]], ...]  # tracked chunk -> kind -> vaults
    msgs_per_s: float | None  # None on the first sample (no span to divide by)
    versioned: tuple[tuple[Name, VersionedState], ...] = ()
    held_by: tuple[tuple[bytes, tuple[Name, ...]], ...] = ()  # message trace -> managers
    structured: tuple[StructuredRow, ...] = ()  # the records a reading carries
