"""StructuredDataVersions: the version tree a VersionManager group keeps per versioned item.

Pure and sans-IO (no trio, no storage): the persona wraps it, syncs the mutations across the
group and persists `to_record()`. Semantics follow MaidSafe-Common `structured_data_versions.cc`
with its known bugs fixed and its ambiguities decided (each decision is marked **Decision**).

The state is a forest of versions. Every version remembers the parent name it was put under
(`None` for the true root). A version whose parent is `None` or not (yet) in the tree starts a
tree; exactly one such start is designated *the root*, the others are *orphans* that wait for
their parent and are joined to it (un-orphaned) when it is put. Tips are versions without
children; each tip is one branch.

Limits: at most `max_versions` versions and `max_branches` tips, so the tree is bounded by
construction. The root is the version dropped first when a put would exceed a limit.

Fixed bugs of the original:

* The cycle check searched the orphans' subtrees for the *new* version (which is never there);
  here a put is refused when `old` lies in the subtree of a tree that waits for `new`, and
  `old == new` is refused outright (the original stored a version waiting for itself).
* Putting a true root while the branch limit was reached dereferenced a missing parent.
* Equality compared ``lhs[i]`` with ``rhs[0]`` in the persona value; here `__eq__` compares the
  whole state and `to_record()` is canonical, so group members can compare trees by hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from vaultnet.protocol import ErrorCode
from vaultnet.xor import NAME_SIZE

MAX_INDEX = 2**64 - 1


class VersionTreeError(Exception):
    """Base of every version-tree refusal; a refused operation leaves the tree unchanged.
    `code` is the error a VersionManager answers it with (each subclass its own)."""

    code: ClassVar[ErrorCode] = ErrorCode.INVALID_PARAMETER


class InvalidParameter(VersionTreeError):
    """Bad limits, re-parenting, a second root, a cycle, a non-tip, or a malformed record."""

    code = ErrorCode.INVALID_PARAMETER


class NoSuchElement(VersionTreeError):
    """The named version is not in the tree."""

    code = ErrorCode.NO_SUCH_ELEMENT


class CannotExceedLimit(VersionTreeError):
    """The put would exceed `max_branches` and dropping the root would not help."""

    code = ErrorCode.CANNOT_EXCEED_LIMIT


@dataclass(frozen=True, order=True, slots=True)
class VersionName:
    """One version: (index, id of the immutable chunk holding it), ordered by (index, id).

    Validated on construction (u64 index, 64-byte id) so a malformed name never enters a tree
    that group members hash and compare.
    """

    index: int
    id: bytes

    def __post_init__(self) -> None:
        if type(self.index) is not int or not 0 <= self.index <= MAX_INDEX:
            raise InvalidParameter(f"version index must be a u64, got {self.index!r}")
        if type(self.id) is not bytes or len(self.id) != NAME_SIZE:
            raise InvalidParameter(f"version id must be {NAME_SIZE} bytes")

    def to_record(self) -> list[Any]:
        """The record form [index, id], for storing and hashing the tree."""
        return [self.index, self.id]

    @classmethod
    def from_record(cls, r: Any) -> VersionName:
        """Read back a `to_record` form, refusing a malformed one before it enters a tree."""
        if not isinstance(r, list | tuple) or len(r) != 2:
            raise InvalidParameter("malformed version name record")
        return cls(r[0], r[1])

    def __repr__(self) -> str:
        return f"VersionName({self.index}, {self.id[:4].hex()}..)"


def _check_limit(value: Any, what: str) -> int:
    if type(value) is not int or value < 1:
        raise InvalidParameter(f"{what} must be an int >= 1, got {value!r}")
    return value


class StructuredDataVersions:
    """A bounded forest of versions with one root; see the module docstring for the model.

    Internal structures (all kept consistent by every mutation):

    * ``_parent[v]``: the parent name `v` was put under (`None` only for the true root);
    * ``_children[v]``: the children of `v` that are in the tree;
    * ``_waiting[p]``: the tree starts (orphans, and the root when it has one) whose parent `p`
      is absent;
    * ``_tips``: the versions without children; ``_root``: the designated root.

    Invariant: a true root (parent `None`) is always the designated root, so there is at most one.
    """

    __slots__ = (
        "_children",
        "_max_branches",
        "_max_versions",
        "_parent",
        "_root",
        "_tips",
        "_waiting",
    )

    def __init__(self, max_versions: int, max_branches: int) -> None:
        self._max_versions = _check_limit(max_versions, "max_versions")
        self._max_branches = _check_limit(max_branches, "max_branches")
        self._parent: dict[VersionName, VersionName | None] = {}
        self._children: dict[VersionName, set[VersionName]] = {}
        self._waiting: dict[VersionName, set[VersionName]] = {}
        self._tips: set[VersionName] = set()
        self._root: VersionName | None = None

    # -- inspection -------------------------------------------------------------------------

    @property
    def max_versions(self) -> int:
        """How many versions the tree holds before the oldest are pruned."""
        return self._max_versions

    @property
    def max_branches(self) -> int:
        """How many branches (tips) the tree may have before a new fork is refused."""
        return self._max_branches

    @property
    def root(self) -> VersionName | None:
        """The designated root (`None` iff the tree is empty)."""
        return self._root

    def __len__(self) -> int:
        return len(self._parent)

    def __contains__(self, version: object) -> bool:
        return version in self._parent

    def parent_of(self, version: VersionName) -> VersionName | None:
        """The parent `version` was put under (possibly absent); `NoSuchElement` if unknown."""
        if version not in self._parent:
            raise NoSuchElement(f"{version!r} is not in the tree")
        return self._parent[version]

    def orphans(self) -> list[VersionName]:
        """Tree starts other than the root, ascending: they wait for their parent."""
        return sorted(v for starts in self._waiting.values() for v in starts if v != self._root)

    def get(self) -> list[VersionName]:
        """All tips (one per branch, orphan trees included), ascending."""
        return sorted(self._tips)

    def get_branch(self, tip: VersionName) -> list[VersionName]:
        """The branch from `tip` back to the root or to the start of its orphan tree."""
        self._check_tip(tip)
        branch = [tip]
        parent = self._parent[tip]
        while parent is not None and parent in self._parent:
            branch.append(parent)
            parent = self._parent[parent]
        return branch

    # -- mutation ---------------------------------------------------------------------------

    def put(self, old: VersionName | None, new: VersionName) -> VersionName | None:
        """Put `new` under `old` (`None`: `new` is the true root); return the version dropped.

        * Re-putting the identical (old, new) is a no-op (returns `None`), so a retried or
          re-synced action is harmless. Putting an existing `new` under another parent is
          `InvalidParameter`.
        * The first version put into an empty tree becomes the root even when `old` is given:
          the root may itself wait for its parent, which then becomes the new root when it comes.
        * `old is None` while a true root exists is `InvalidParameter` (a second root). If the
          root is only waiting for its parent, the true root is accepted and becomes the root;
          the previous root becomes its child if it waited for `new`, else an orphan (as in the
          original: versions may arrive out of order).
        * `old` given but absent: `new` becomes an orphan waiting for `old`.
        * Versions waiting for `new` are un-orphaned under it. If the root was among them the
          root moves to the start of the tree that now holds it. A put that would make `new`
          its own ancestor is `InvalidParameter`.
        * If the tree would then hold more than `max_versions` versions, or more than
          `max_branches` tips, the root is erased (see `_erase_root`) and returned. For the
          branch limit this only helps when the root is a lone tip; otherwise the put is
          `CannotExceedLimit`.

        **Decision**: the limits are applied to the tree *after* the insertion, uniformly. So
        when `new` itself would become the root (a late true root, or an orphan that un-orphans
        the root) and a limit is exceeded, `new` is the version erased and returned: the put is
        absorbed, the versions it un-orphaned stay, its lowest child becomes the root (or the
        lowest orphan). The original returned `new` without touching the tree in the
        max_versions case and crashed in the max_branches one.
        """
        if not isinstance(new, VersionName) or not isinstance(old, VersionName | None):
            raise InvalidParameter("versions must be VersionName (old may be None)")
        if new in self._parent:
            if self._parent[new] == old:
                return None
            raise InvalidParameter(f"{new!r} already exists under another parent")
        if old == new:
            raise InvalidParameter("a version cannot be its own parent")
        empty = not self._parent
        if old is None and self._root is not None and self._parent[self._root] is None:
            raise InvalidParameter("the tree already has a root")
        waiters = self._waiting.get(new, set())
        old_present = old is not None and old in self._parent
        if old is not None and old_present and waiters and self._start_of(old) in waiters:
            raise InvalidParameter(f"putting {new!r} under {old!r} would create a cycle")

        # Work out the tree after insertion without touching it, so refusal needs no rollback.
        is_start = not old_present
        tips_after = len(self._tips) + (not waiters) - (old_present and old in self._tips)
        if empty or old is None:
            root_after = new
        elif self._root in waiters:
            root_after = new if is_start else self._start_of(old)
        else:
            assert self._root is not None  # the tree is not empty, so it has a root
            root_after = self._root
        if root_after == new:
            root_has_children = bool(waiters)
        else:
            root_has_children = bool(self._children[root_after]) or old == root_after
        over_branches = tips_after > self._max_branches
        if over_branches and root_has_children:
            raise CannotExceedLimit(f"{new!r} would exceed max_branches={self._max_branches}")
        must_erase = over_branches or len(self._parent) + 1 > self._max_versions

        # Insert.
        self._parent[new] = old
        self._children[new] = set(self._waiting.pop(new, ()))
        if not self._children[new]:
            self._tips.add(new)
        if is_start:
            if old is not None:
                self._waiting.setdefault(old, set()).add(new)
        else:
            assert old is not None
            self._children[old].add(new)
            self._tips.discard(old)
        self._root = root_after
        if not must_erase:
            return None
        erased = self._root
        self._erase_root()
        return erased

    def delete_branch_until_fork(self, tip: VersionName) -> None:
        """Erase `tip` and its ancestors down to (excluding) the first one with another child.

        If no fork is met the whole tree of `tip` goes, its start included. **Decision**: when
        that start was the root, the lowest orphan becomes the root (the tree becomes empty if
        there is none), as when the root is dropped for a limit.
        """
        self._check_tip(tip)
        version = tip
        while True:
            parent = self._parent.pop(version)
            del self._children[version]
            self._tips.discard(version)
            if parent is not None and parent in self._parent:
                siblings = self._children[parent]
                siblings.discard(version)
                if siblings:
                    return
                version = parent
                continue
            self._unwait(parent, version)
            if version == self._root:
                self._root = min(self._waiting_starts(), default=None)
            return

    # -- records ----------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        """A canonical, msgpack-friendly form: equal trees give equal records (all sorted)."""
        return {
            "max_versions": self._max_versions,
            "max_branches": self._max_branches,
            "root": None if self._root is None else self._root.to_record(),
            "versions": [
                [v.to_record(), None if p is None else p.to_record()]
                for v, p in sorted(self._parent.items(), key=lambda item: item[0])
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StructuredDataVersions:
        """Rebuild a tree from `to_record()`, refusing (InvalidParameter) anything it could not
        have produced: a record comes from a peer or a disk and is not trusted."""
        if not isinstance(record, Mapping) or set(record) != {
            "max_versions",
            "max_branches",
            "root",
            "versions",
        }:
            raise InvalidParameter("malformed version tree record")
        tree = cls(record["max_versions"], record["max_branches"])
        entries = record["versions"]
        if not isinstance(entries, list | tuple):
            raise InvalidParameter("malformed version tree record")
        parents: dict[VersionName, VersionName | None] = {}
        for entry in entries:
            if not isinstance(entry, list | tuple) or len(entry) != 2:
                raise InvalidParameter("malformed version entry")
            version = VersionName.from_record(entry[0])
            parent = None if entry[1] is None else VersionName.from_record(entry[1])
            if version in parents or version == parent:
                raise InvalidParameter("duplicate or self-parented version in record")
            parents[version] = parent
        root = None if record["root"] is None else VersionName.from_record(record["root"])
        tree._load(parents, root)
        return tree

    def _load(
        self, parents: dict[VersionName, VersionName | None], root: VersionName | None
    ) -> None:
        if len(parents) > self._max_versions:
            raise InvalidParameter("record exceeds max_versions")
        if (root is None) != (not parents) or (root is not None and root not in parents):
            raise InvalidParameter("record root is not a version of the tree")
        self._parent = dict(parents)
        self._children = {v: set() for v in parents}
        for version, parent in parents.items():
            if parent is None:
                if version != root:
                    raise InvalidParameter("record has a true root that is not the root")
            elif parent in parents:
                self._children[parent].add(version)
            else:
                self._waiting.setdefault(parent, set()).add(version)
        reached = set(self._waiting_starts())
        if root is not None and parents[root] is None:
            reached.add(root)
        if root is not None and root not in reached:
            raise InvalidParameter("record root has a parent in the tree")
        for version in parents:
            path = []
            while version not in reached:
                if version in path:
                    raise InvalidParameter("record contains a cycle")
                path.append(version)
                parent = parents[version]
                assert parent is not None  # a version without a parent is the root: reached
                version = parent
            reached.update(path)
        self._tips = {v for v, kids in self._children.items() if not kids}
        if len(self._tips) > self._max_branches:
            raise InvalidParameter("record exceeds max_branches")
        self._root = root

    # -- helpers ----------------------------------------------------------------------------

    def _check_tip(self, tip: VersionName) -> None:
        if tip not in self._parent:
            raise NoSuchElement(f"{tip!r} is not in the tree")
        if tip not in self._tips:
            raise InvalidParameter(f"{tip!r} is not a tip")

    def _start_of(self, version: VersionName) -> VersionName:
        """The start (root or orphan) of the tree holding `version`."""
        parent = self._parent[version]
        while parent is not None and parent in self._parent:
            version, parent = parent, self._parent[parent]
        return version

    def _waiting_starts(self) -> Iterable[VersionName]:
        """The tree starts waiting for an absent parent (all starts but a true root)."""
        for starts in self._waiting.values():
            yield from starts

    def _unwait(self, parent: VersionName | None, version: VersionName) -> None:
        if parent is None:
            return
        starts = self._waiting[parent]
        starts.discard(version)
        if not starts:
            del self._waiting[parent]

    def _erase_root(self) -> None:
        """Drop the root: its lowest child becomes the root, its other children orphans waiting
        for it (it may be put again); with no children the lowest orphan becomes the root.

        **Decision**: "lowest orphan" is the lowest by its own name; the original took the first
        entry of a map keyed by the absent parent's name.
        """
        root = self._root
        assert root is not None
        parent = self._parent.pop(root)
        children = self._children.pop(root)
        self._tips.discard(root)
        self._unwait(parent, root)
        if children:
            self._waiting[root] = children
            self._root = min(children)
        else:
            self._root = min(self._waiting_starts(), default=None)

    # -- dunder -----------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StructuredDataVersions):
            return NotImplemented
        return (
            self._max_versions == other._max_versions
            and self._max_branches == other._max_branches
            and self._root == other._root
            and self._parent == other._parent
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def copy(self) -> StructuredDataVersions:
        """An independent copy (what a persona mutates before committing a synced action)."""
        clone = StructuredDataVersions(self._max_versions, self._max_branches)
        clone._parent = dict(self._parent)
        clone._children = {v: set(kids) for v, kids in self._children.items()}
        clone._waiting = {p: set(starts) for p, starts in self._waiting.items()}
        clone._tips = set(self._tips)
        clone._root = self._root
        return clone

    def __repr__(self) -> str:
        return (
            f"StructuredDataVersions(max_versions={self._max_versions}, "
            f"max_branches={self._max_branches}, versions={len(self._parent)}, "
            f"tips={len(self._tips)}, root={self._root!r})"
        )
