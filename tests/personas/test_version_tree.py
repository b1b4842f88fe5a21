"""StructuredDataVersions: unit tests per rule, then a stateful comparison with a naive model."""

from __future__ import annotations

import itertools
import random
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from vaultnet.personas.version_tree import (
    CannotExceedLimit,
    InvalidParameter,
    NoSuchElement,
    StructuredDataVersions,
    VersionName,
    VersionTreeError,
)


def v(index: int, tag: int = 0) -> VersionName:
    """A version whose id is 64 bytes of `tag` (small universes collide on purpose)."""
    return VersionName(index, bytes([tag]) * 64)


A, B, C, D, E, F = (v(i) for i in range(6))
X, Y, Z, P, Q = (v(i, 9) for i in range(10, 15))


def tree(max_versions: int = 100, max_branches: int = 100, *puts: tuple) -> StructuredDataVersions:
    t = StructuredDataVersions(max_versions, max_branches)
    for old, new in puts:
        t.put(old, new)
    return t


def refused(t: StructuredDataVersions, exc: type[Exception], op, *args) -> None:
    """`op(*args)` raises `exc` and leaves the tree exactly as it was."""
    before = t.to_record()
    with pytest.raises(exc):
        op(*args)
    assert t.to_record() == before


# -- VersionName and construction -------------------------------------------------------------


def test_version_name_orders_by_index_then_id():
    assert v(1, 5) < v(2, 0) < v(2, 1)
    assert sorted([v(3), v(1, 2), v(1, 1)]) == [v(1, 1), v(1, 2), v(3)]
    assert v(4, 4) == v(4, 4) and hash(v(4, 4)) == hash(v(4, 4))


@pytest.mark.parametrize(
    ("index", "id_"),
    [(-1, b"\0" * 64), (2**64, b"\0" * 64), (1, b"\0" * 63), (True, b"\0" * 64), (1, "x" * 64)],
)
def test_version_name_refuses_malformed(index, id_):
    with pytest.raises(InvalidParameter):
        VersionName(index, id_)


@pytest.mark.parametrize(("mv", "mb"), [(0, 1), (1, 0), (-3, 2), (1.5, 1), (True, 1)])
def test_limits_must_be_at_least_one(mv, mb):
    with pytest.raises(InvalidParameter):
        StructuredDataVersions(mv, mb)


def test_put_refuses_non_version_names():
    t = tree()
    refused(t, InvalidParameter, t.put, None, (1, b"\0" * 64))
    refused(t, InvalidParameter, t.put, "A", A)


def test_errors_share_a_base():
    for exc in (InvalidParameter, NoSuchElement, CannotExceedLimit):
        assert issubclass(exc, VersionTreeError)


def test_empty_tree():
    t = tree()
    assert t.get() == [] and t.root is None and len(t) == 0 and t.orphans() == []


def test_chain_and_fork():
    t = tree(100, 100, (None, A), (A, B), (B, C), (B, D))
    assert t.root == A
    assert t.get() == [C, D]
    assert t.get_branch(C) == [C, B, A]
    assert t.get_branch(D) == [D, B, A]


# -- orphans ----------------------------------------------------------------------------------


def test_orphans_wait_and_join_when_parent_arrives():
    t = tree(100, 100, (A, B), (B, C))  # B arrives before A: the root waits for A
    assert t.root == B and t.parent_of(B) == A
    assert t.put(X, Y) is None  # Y waits for X, which is not in the tree
    assert t.orphans() == [Y]
    assert t.get() == [C, Y]
    assert t.get_branch(Y) == [Y]
    t.put(None, A)  # the true root arrives: B joins under it
    assert t.root == A and t.get_branch(C) == [C, B, A]
    assert t.orphans() == [Y]
    t.put(A, X)  # Y's parent arrives: Y joins
    assert t.orphans() == []
    assert t.get() == [C, Y]
    assert t.get_branch(Y) == [Y, X, A]


def test_late_true_root_that_nothing_waits_for_turns_the_root_into_an_orphan():
    t = tree(100, 100, (P, B))
    t.put(None, A)
    assert t.root == A and t.orphans() == [B]
    assert t.get() == [A, B]


def test_root_moves_to_the_start_of_the_tree_it_joins():
    t = tree(100, 100, (P, B), (Q, X))  # root B waits for P; orphan X waits for Q
    t.put(X, P)  # P joins X's tree, B joins under P: X's tree now holds the root
    assert t.root == X and t.orphans() == []
    assert t.get_branch(B) == [B, P, X]


def test_orphan_waiting_for_a_new_orphan_joins_it():
    t = tree(100, 100, (None, A), (Y, Z))
    t.put(X, Y)
    assert t.orphans() == [Y]
    assert t.get_branch(Z) == [Z, Y]


# -- refusals ---------------------------------------------------------------------------------


def test_cycle_is_refused():
    t = tree(100, 100, (A, B), (B, C))  # B waits for A
    refused(t, InvalidParameter, t.put, C, A)  # A under C under B under A
    t2 = tree(100, 100, (None, A), (Y, Z), (Z, X))  # orphan tree Z->X waits for Y
    refused(t2, InvalidParameter, t2.put, X, Y)


def test_self_parent_is_refused():
    t = tree()
    refused(t, InvalidParameter, t.put, A, A)
    t.put(None, A)
    refused(t, InvalidParameter, t.put, B, B)


def test_second_root_is_refused():
    t = tree(100, 100, (None, A), (A, B))
    refused(t, InvalidParameter, t.put, None, C)


def test_reparenting_is_refused():
    t = tree(100, 100, (None, A), (A, B), (A, C), (X, Y))
    refused(t, InvalidParameter, t.put, B, C)  # existing child
    refused(t, InvalidParameter, t.put, C, A)  # true root
    refused(t, InvalidParameter, t.put, A, Y)  # orphan
    refused(t, InvalidParameter, t.put, None, B)


def test_identical_reput_is_idempotent():
    t = tree(3, 2, (P, A), (A, B), (X, Y))
    before = t.to_record()
    for old, new in [(P, A), (A, B), (X, Y)]:
        assert t.put(old, new) is None
    assert t.to_record() == before


# -- limits -----------------------------------------------------------------------------------


def test_root_dropped_past_max_versions():
    t = tree(3, 100, (None, A), (A, B), (B, C))
    assert t.put(C, D) == A
    assert t.root == B and len(t) == 3
    assert t.get_branch(D) == [D, C, B]
    assert t.put(B, E) == B  # B has children C and E: lowest (C) is promoted, E waits for B
    assert t.root == C and t.orphans() == [E]
    assert t.get() == [D, E]


def test_max_versions_one_keeps_only_the_newest():
    t = tree(1, 1, (None, A))
    assert t.put(A, B) == A
    assert t.put(B, C) == B
    assert t.get() == [C] and t.root == C


def test_lowest_child_promoted_others_orphaned():
    t = tree(4, 100, (None, A), (A, C), (A, B), (A, D))
    assert t.put(B, E) == A
    assert t.root == B
    assert t.orphans() == [C, D]
    assert t.get_branch(C) == [C]
    t.put(None, A)  # A may be put again: it would take all three back, then is dropped at once
    assert t.root == B and t.orphans() == [C, D] and len(t) == 4


def test_lowest_orphan_promoted_when_root_has_no_children():
    t = tree(3, 100, (None, A), (Q, Z), (P, Y))
    assert t.put(X, E) == A
    assert t.root == E  # E < Y < Z by index
    assert t.orphans() == [Y, Z]


def test_branch_limit_refused_when_dropping_root_does_not_help():
    t = tree(100, 2, (None, A), (A, B), (A, C))
    refused(t, CannotExceedLimit, t.put, A, D)
    refused(t, CannotExceedLimit, t.put, X, Y)
    assert t.put(B, D) is None  # extends a branch: no new tip


def test_branch_limit_drops_a_lone_root():
    t = tree(100, 1, (None, A))
    assert t.put(X, Y) == A
    assert t.root == Y and t.get() == [Y]


def test_late_true_root_is_absorbed_at_the_limit():
    """Decision: limits apply after insertion, so the new root itself may be the one dropped."""
    t = tree(1, 1, (P, B))
    assert t.put(None, A) == A
    assert t.root == B and len(t) == 1
    t2 = tree(2, 100, (A, B), (B, C))
    assert t2.put(None, A) == A  # un-orphans B, then is dropped: B is the root again
    assert t2.root == B and t2.parent_of(B) == A


def test_unorphaning_does_not_count_as_a_new_branch():
    t = tree(100, 2, (None, A), (X, Y))
    assert t.put(A, X) is None
    assert t.get() == [Y]


# -- get_branch and delete_branch_until_fork --------------------------------------------------


def test_get_branch_errors():
    t = tree(100, 100, (None, A), (A, B))
    refused(t, NoSuchElement, t.get_branch, C)
    refused(t, InvalidParameter, t.get_branch, A)
    refused(t, NoSuchElement, t.delete_branch_until_fork, C)
    refused(t, InvalidParameter, t.delete_branch_until_fork, A)


def test_delete_until_fork_stops_at_the_fork():
    t = tree(100, 100, (None, A), (A, B), (B, C), (C, D), (B, E))
    t.delete_branch_until_fork(D)
    assert C not in t and D not in t
    assert t.get() == [E] and t.get_branch(E) == [E, B, A]


def test_delete_until_fork_without_fork_erases_through_the_root():
    t = tree(100, 100, (None, A), (A, B), (B, C))
    t.delete_branch_until_fork(C)
    assert len(t) == 0 and t.root is None and t.get() == []
    t.put(None, A)  # a fresh tree can start again
    assert t.get() == [A]


def test_delete_until_fork_through_the_root_promotes_lowest_orphan():
    t = tree(100, 100, (None, A), (A, B), (Q, Z), (P, Y))
    t.delete_branch_until_fork(B)
    assert t.root == Y and t.orphans() == [Z]


def test_delete_an_orphan_tree():
    t = tree(100, 100, (None, A), (X, Y), (Y, Z))
    t.delete_branch_until_fork(Z)
    assert t.orphans() == [] and t.get() == [A]
    t.put(X, Y)  # nothing remembers the deleted orphan
    assert t.orphans() == [Y]


# -- records ----------------------------------------------------------------------------------


def plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(x) for k, x in value.items())
    if isinstance(value, list):
        return all(plain(x) for x in value)
    return value is None or type(value) in (int, bytes, str)


def test_record_round_trip_through_msgpack():
    t = tree(10, 5, (P, B), (B, C), (X, Y), (None, A), (B, D))
    record = t.to_record()
    assert plain(record)
    back = StructuredDataVersions.from_record(msgpack.unpackb(msgpack.packb(record)))
    assert back == t and back.to_record() == record
    assert back.get() == t.get() and back.root == t.root and back.orphans() == t.orphans()
    back.put(D, E)
    assert back != t


def test_record_is_canonical_over_arrival_order():
    edges = [(None, A), (A, B), (A, C), (B, D), (C, E), (E, F), (X, Y)]
    records = set()
    for order in itertools.islice(itertools.permutations(edges), 0, None, 97):
        t = tree(100, 100, *order)
        records.add(msgpack.packb(t.to_record()))
    assert len(records) == 1


def test_equality():
    assert tree(5, 5, (None, A)) == tree(5, 5, (None, A))
    assert tree(5, 5, (None, A)) != tree(5, 4, (None, A))
    assert tree(5, 5, (None, A)) != tree(5, 5, (None, B))
    assert tree() != "tree"


def test_copy_is_independent():
    t = tree(100, 100, (None, A), (A, B))
    c = t.copy()
    c.put(B, C)
    assert t.get() == [B] and c.get() == [C]


def _record(versions, root, mv=10, mb=10):
    return {"max_versions": mv, "max_branches": mb, "root": root, "versions": versions}


@pytest.mark.parametrize(
    "record",
    [
        None,
        {"max_versions": 1},
        _record([], None, mv=0),
        _record("nope", None),
        _record([[A.to_record(), None]], None),  # root missing
        _record([[A.to_record(), None]], B.to_record()),  # root not in the tree
        _record([[A.to_record(), None], [A.to_record(), None]], A.to_record()),  # duplicate
        _record([[A.to_record(), A.to_record()]], A.to_record()),  # self parent
        _record([[A.to_record(), None], [B.to_record(), None]], A.to_record()),  # two true roots
        _record([[A.to_record(), None], [B.to_record(), A.to_record()]], B.to_record()),
        _record(  # cycle B <-> C next to a root
            [[A.to_record(), None], [B.to_record(), C.to_record()], [C.to_record(), B.to_record()]],
            A.to_record(),
        ),
        _record([[A.to_record(), None], [B.to_record(), A.to_record()]], A.to_record(), mv=1),
        _record(
            [[A.to_record(), None], [B.to_record(), A.to_record()], [C.to_record(), A.to_record()]],
            A.to_record(),
            mb=1,
        ),
        _record([[[1, b"short"], None]], [1, b"short"]),
    ],
)
def test_from_record_refuses_what_put_could_not_produce(record):
    with pytest.raises(InvalidParameter):
        StructuredDataVersions.from_record(record)


# -- reference model --------------------------------------------------------------------------


class Model:
    """The rules restated naively: a dict of parents, a root, everything else recomputed.

    Each put is tried on a copy, checked as a whole and committed only if accepted.
    """

    def __init__(self, max_versions: int, max_branches: int) -> None:
        self.mv, self.mb = max_versions, max_branches
        self.parent: dict[VersionName, VersionName | None] = {}
        self.root: VersionName | None = None

    @staticmethod
    def kids(parent: dict, x: VersionName) -> list[VersionName]:
        return sorted(w for w, p in parent.items() if p == x)

    @staticmethod
    def starts(parent: dict) -> list[VersionName]:
        return sorted(w for w, p in parent.items() if p is None or p not in parent)

    @classmethod
    def tips_of(cls, parent: dict) -> list[VersionName]:
        return sorted(w for w in parent if not cls.kids(parent, w))

    @staticmethod
    def top(parent: dict, x: VersionName) -> VersionName:
        while parent[x] is not None and parent[x] in parent:
            x = parent[x]
        return x

    def tips(self) -> list[VersionName]:
        return self.tips_of(self.parent)

    def orphans(self) -> list[VersionName]:
        return [w for w in self.starts(self.parent) if w != self.root]

    def branch(self, tip: VersionName) -> list[VersionName]:
        self.check_tip(tip)
        out = [tip]
        while self.parent[out[-1]] in self.parent:
            out.append(self.parent[out[-1]])
        return out

    def check_tip(self, tip: VersionName) -> None:
        if tip not in self.parent:
            raise NoSuchElement
        if self.kids(self.parent, tip):
            raise InvalidParameter

    def put(self, old: VersionName | None, new: VersionName) -> VersionName | None:
        if new in self.parent:
            if self.parent[new] == old:
                return None
            raise InvalidParameter
        if old == new or (old is None and None in self.parent.values()):
            raise InvalidParameter
        trial = dict(self.parent)
        trial[new] = old
        seen, x = set(), new
        while x is not None and x in trial:
            if x in seen:
                raise InvalidParameter
            seen.add(x)
            x = trial[x]
        root = new if self.root is None or old is None else self.top(trial, self.root)
        erased = None
        too_many_tips = len(self.tips_of(trial)) > self.mb
        if too_many_tips or len(trial) > self.mv:
            if too_many_tips and self.kids(trial, root):
                raise CannotExceedLimit
            erased, root = root, self.drop(trial, root)
        assert len(trial) <= self.mv and len(self.tips_of(trial)) <= self.mb
        self.parent, self.root = trial, root
        return erased

    def drop(self, parent: dict, root: VersionName) -> VersionName | None:
        """Remove `root` from `parent`; return the new root."""
        kids = self.kids(parent, root)
        del parent[root]
        if kids:
            return kids[0]
        return min(self.starts(parent), default=None)

    def delete(self, tip: VersionName) -> None:
        self.check_tip(tip)
        x = tip
        while True:
            p = self.parent.pop(x)
            if p is None or p not in self.parent:
                if x == self.root:
                    self.root = min(self.starts(self.parent), default=None)
                return
            if self.kids(self.parent, p):
                return
            x = p

    def record(self) -> dict[str, Any]:
        def r(x):
            return None if x is None else [x.index, x.id]

        return {
            "max_versions": self.mv,
            "max_branches": self.mb,
            "root": r(self.root),
            "versions": [[r(w), r(self.parent[w])] for w in sorted(self.parent)],
        }


UNIVERSE = [v(i, t) for i in range(4) for t in (1, 2)]
names = st.sampled_from(UNIVERSE)


def outcome(op, *args) -> tuple[str, Any]:
    try:
        return ("ok", op(*args))
    except VersionTreeError as exc:
        return ("error", type(exc))


class VersionTreeMachine(RuleBasedStateMachine):
    """Random puts, deletes and reads on small limits; the tree must agree with the model."""

    @initialize(mv=st.integers(1, 8), mb=st.integers(1, 4))
    def start(self, mv: int, mb: int) -> None:
        self.tree = StructuredDataVersions(mv, mb)
        self.model = Model(mv, mb)

    @rule(old=st.none() | names, new=names)
    def put(self, old, new) -> None:
        before = self.tree.to_record()
        got = outcome(self.tree.put, old, new)
        assert got == outcome(self.model.put, old, new)
        if got[0] == "error":
            assert self.tree.to_record() == before

    @rule(data=st.data())
    def put_onto_existing(self, data) -> None:
        """Extend or fork a version that exists (random names mostly make orphans)."""
        if len(self.tree):
            old = data.draw(st.sampled_from(sorted(self.model.parent)))
            new = data.draw(names)
            assert outcome(self.tree.put, old, new) == outcome(self.model.put, old, new)

    @rule(data=st.data())
    def delete_existing(self, data) -> None:
        """Delete from a version that exists (a tip or not), which random names rarely hit."""
        if len(self.tree):
            tip = data.draw(st.sampled_from(sorted(self.model.parent)))
            self.delete(tip)

    @rule(tip=names)
    def delete(self, tip) -> None:
        before = self.tree.to_record()
        got = outcome(self.tree.delete_branch_until_fork, tip)
        assert got == outcome(self.model.delete, tip)
        if got[0] == "error":
            assert self.tree.to_record() == before

    @rule(tip=names)
    def branch(self, tip) -> None:
        assert outcome(self.tree.get_branch, tip) == outcome(self.model.branch, tip)

    @invariant()
    def agrees(self) -> None:
        if not hasattr(self, "tree"):
            return
        assert self.tree.get() == self.model.tips()
        assert self.tree.root == self.model.root
        assert self.tree.orphans() == self.model.orphans()
        for tip in self.model.tips():
            assert self.tree.get_branch(tip) == self.model.branch(tip)
        assert len(self.tree) <= self.tree.max_versions
        assert len(self.tree.get()) <= self.tree.max_branches
        record = self.tree.to_record()
        assert record == self.model.record()
        assert StructuredDataVersions.from_record(record) == self.tree


VersionTreeMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None
)
test_version_tree_matches_model = VersionTreeMachine.TestCase


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 12))
def test_any_arrival_order_of_a_tree_converges(seed: int, size: int):
    """Puts of one valid tree, delivered in any order without limits, give equal records."""
    rng = random.Random(seed)
    nodes = [v(i, rng.randrange(3)) for i in range(size)]
    nodes = sorted(set(nodes))
    edges = [(None, nodes[0])] + [(rng.choice(nodes[:k]), nodes[k]) for k in range(1, len(nodes))]
    reference = tree(100, 100, *edges).to_record()
    for _ in range(5):
        rng.shuffle(edges)
        assert tree(100, 100, *edges).to_record() == reference
