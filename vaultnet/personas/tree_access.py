"""Who may read and write a version tree: its mode and owners, fixed when the tree is created.

Seed 002 keeps private, public and shared directories in version trees; a tree that anyone
could fork or delete would make those words meaningless. The owners are client names (MAID
names): a write's requester is the client its MaidManager group forwarded the request for, a
read's is the client that signed it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

MAX_OWNERS = 32
"""Owners a shared tree may name (its creator included): each is checked on every request."""


class TreeMode(enum.Enum):
    """Who may read and write a version tree."""

    PRIVATE = "private"
    """Only its owner (the client that created it) reads or writes it."""
    PUBLIC = "public"
    """Anyone reads it; only its owner writes."""
    SHARED = "shared"
    """Its owners (the creator and the clients it named) read and write; nobody else reads."""


@dataclass(frozen=True)
class TreeAccess:
    """A tree's mode and owners. No owners: a tree stored before trees had owners, which
    everyone may read and write as before."""

    mode: TreeMode
    owners: frozenset[Name]

    @classmethod
    def create(cls, mode: TreeMode, creator: Name, others: Iterable[Name] = ()) -> TreeAccess:
        """The access of a tree `creator` creates; only a shared tree names other owners."""
        others = frozenset(others) - {creator}
        if others and mode is not TreeMode.SHARED:
            raise FrameError(f"a {mode.value} tree has one owner")
        if len(others) + 1 > MAX_OWNERS:
            raise FrameError(f"a shared tree has at most {MAX_OWNERS} owners")
        return cls(mode, others | {creator})

    def may_read(self, client: Name) -> bool:
        """Whether `client` may list the tree's tips and branches."""
        return self.mode is TreeMode.PUBLIC or not self.owners or client in self.owners

    def may_write(self, client: Name) -> bool:
        """Whether `client` may put versions into the tree or delete its branches."""
        return not self.owners or client in self.owners

    def to_record(self) -> dict[str, Any]:
        """The stored form (owners sorted, so members' records compare equal)."""
        return {"mode": self.mode.value, "owners": sorted(self.owners)}

    @classmethod
    def from_record(cls, raw: Any) -> TreeAccess:
        """From a stored record, a peer's transfer or a request: checked, FrameError if not."""
        if not isinstance(raw, dict) or set(raw) != {"mode", "owners"}:
            raise FrameError("malformed tree access")
        return cls(mode_from_wire(raw["mode"]), owners_from_wire(raw["owners"]))


def mode_from_wire(raw: Any) -> TreeMode:
    """A mode from a message field; FrameError if it names none."""
    try:
        return TreeMode(raw)
    except ValueError as exc:
        raise FrameError(f"unknown tree mode {raw!r}") from exc


def owners_from_wire(raw: Any) -> frozenset[Name]:
    """A bounded list of client names from a message field; FrameError if malformed."""
    if (not isinstance(raw, list) or len(raw) > MAX_OWNERS
            or not all(isinstance(n, bytes) and len(n) == NAME_SIZE for n in raw)):
        raise FrameError(f"owners must be a list of at most {MAX_OWNERS} names")
    return frozenset(raw)
