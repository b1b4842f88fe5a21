"""VersionManager: the version tree (StructuredDataVersions) of each versioned item
(docs/origins.md).

Group: the vaults closest to the versioned item's 64-byte name. Record per item, keyed by that
name (so it moves with churn like every other group record): the tree's canonical record.

Mutations (put a version, delete a branch until its fork) come from the client's MaidManager
group, which checks the account first; they are accumulated (3 of 4 MaidManagers), agreed by
sync, then applied by every member to its own tree. Reads (tips, a branch) come straight from
the client and each member answers from its local tree; the client takes the answer a quorum of
members gave, so a member with a stale tree is outvoted.

The same group keeps the structured data records of its names (owner-signed mutable records:
`structured_data.py` for the rules, `structured_keeper.py` for the handlers), in a table of
their own that moves with churn beside the trees.

Decisions:
* **Creation** is a put with no parent into an absent tree, carrying the limits; a put with a
  parent into an absent tree is refused ("no version tree"), so a typo in the key does not
  silently create a tree whose first version would become the root.
* **Answers to mutations go back through the client's MaidManagers** (`version_result`), which
  send them on and record them in their firewall (Uf): a client's retry of a put or delete
  whose answer was lost reaches the MaidManagers again and gets the recorded answer, where a
  direct answer would have left them nothing to give (the original design draws Uf at every
  group that answers a client). Reads are answered directly and recorded here.
* **Owners** (`tree_access.py`): the client that creates a tree owns it, and its mode says who
  else reads and writes: private (only the owner), public (anyone reads, the owner writes),
  shared (the owners it named read and write; two clients forking one tree). Default: public.
  A refused request is answered `NotOwner`. The MaidManager also checks that a put version's
  chunk is stored in the putting client's account.
* **Stored record**: `{"tree": <the tree's canonical record>, "access": <mode and owners>}`;
  a bare tree record (stored before trees had owners) has no owners and stays open to all.
* A put or delete answer lists the versions it removed, so the client can delete their chunks
  through the normal flow.
"""

from __future__ import annotations

from typing import Any

from vaultnet.messages import Message, Persona
from vaultnet.personas.actions import DeleteBranch, PutVersion
from vaultnet.personas.bodies import (
    BranchBody,
    DeleteBranchBody,
    PutVersionBody,
    VersionAnswerBody,
)
from vaultnet.personas.context import Context
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.structured_data import structured_store
from vaultnet.personas.structured_keeper import StructuredDataKeeper
from vaultnet.personas.tree_access import TreeAccess, TreeMode
from vaultnet.personas.version_tree import (
    StructuredDataVersions,
    VersionName,
    VersionTreeError,
)
from vaultnet.protocol import Action, ErrorCode, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records
from vaultnet.wire import FrameError

VERSION_PUT = EventKind.VERSION_PUT
VERSION_DELETED = EventKind.VERSION_DELETED
VERSION_RESULT = Action.VERSION_RESULT
"""The VersionManagers' agreed answer to a put or delete, sent to the client's MaidManagers."""
DEFAULT_MAX_VERSIONS = 100
DEFAULT_MAX_BRANCHES = 10

NO_TREE = VersionAnswerBody(False, ErrorCode.NO_SUCH_ELEMENT, "no version tree at this key")
NOT_OWNER = VersionAnswerBody(False, ErrorCode.NOT_OWNER,
                              "the tree's owners do not include this client")


def tree_of_record(record: dict[str, Any]) -> tuple[StructuredDataVersions, TreeAccess]:
    """A stored record as its tree and access (a bare tree record: open to everyone).
    FrameError for a malformed one (a record can come from a peer's transfer)."""
    try:
        if "tree" not in record:
            return (StructuredDataVersions.from_record(record),
                    TreeAccess(TreeMode.PUBLIC, frozenset()))
        return (StructuredDataVersions.from_record(record["tree"]),
                TreeAccess.from_record(record.get("access")))
    except VersionTreeError as exc:
        raise FrameError(f"stored version tree is malformed: {exc}") from exc


class VersionManager(StructuredDataKeeper):
    """Each versioned item's tree: agreed puts and branch deletes, reads from any member; and
    the structured data records of its names (`StructuredDataKeeper`)."""

    persona = Persona.VERSION_MANAGER

    def __init__(self, params: Parameters, trees: Records,
                 structured: Records | None = None) -> None:
        super().__init__(params)
        self.trees = trees
        self.structured = structured if structured is not None else structured_store(trees)

    def transfer_stores(self) -> list[Records]:
        """The trees and the structured data records move with churn."""
        return [self.trees, self.structured]

    def tree(self, key: bytes) -> StructuredDataVersions | None:
        """The tree stored at `key`, if any."""
        stored = self.stored(key)
        return None if stored is None else stored[0]

    def stored(self, key: bytes) -> tuple[StructuredDataVersions, TreeAccess] | None:
        """The tree at `key` and who may use it, if there is one."""
        record = self.trees.get(key)
        return None if record is None else tree_of_record(record)

    # -- mutations, from the MaidManager group -------------------------------------------------

    @handles(Action.PUT_VERSION)
    def on_put_version(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The client's MaidManagers forward a put: check the version and limits, propose it."""
        key = msg.dst.name
        put = msg.typed(PutVersionBody)
        action = PutVersion(put.parent, put.version,
                            put.max_versions or DEFAULT_MAX_VERSIONS,
                            put.max_branches or DEFAULT_MAX_BRANCHES,
                            put.mode or TreeMode.PUBLIC, sorted(set(put.owners or ())),
                            put.id, put.reply)
        self.propose(key, action, ctx, out, msg.trace_id)

    @handles(Action.DELETE_BRANCH)
    def on_delete_branch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The client's MaidManagers forward a branch delete: propose it."""
        delete = msg.typed(DeleteBranchBody)
        self.propose(msg.dst.name, DeleteBranch(delete.tip, delete.id, delete.reply), ctx, out,
                     msg.trace_id)

    @commits(PutVersion)
    def commit_put_version(self, key: bytes, action: PutVersion, ctx: Context, out: Outbox,
                           trace: bytes) -> None:
        """Agreed put: create the tree or add the version (owners permitting), and answer
        through the client's MaidManagers."""
        parent, version = action.parent, action.version
        requester = action.reply.name
        stored = self.stored(key)
        if stored is None:
            if parent is not None:
                self._answer(key, action, NO_TREE, out, trace)
                return
            tree = StructuredDataVersions(action.max_versions, action.max_branches)
            access = TreeAccess.create(action.mode, requester, action.owners)
        else:
            tree, access = stored
            if not access.may_write(requester):
                self._answer(key, action, NOT_OWNER, out, trace)
                return
        try:
            dropped = tree.put(parent, version)
        except VersionTreeError as exc:
            self._refuse(key, action, exc, out, trace)
            return
        self._store(key, tree, access)
        out.note(VERSION_PUT, key, trace, persona=self.persona.value, index=version.index,
                 tips=len(tree.get()), versions=len(tree))
        removed = [] if dropped is None else [dropped]
        self._answer(key, action, VersionAnswerBody(True, removed=removed), out, trace)

    @commits(DeleteBranch)
    def commit_delete_branch(self, key: bytes, action: DeleteBranch, ctx: Context,
                             out: Outbox, trace: bytes) -> None:
        """Agreed delete: remove the branch until its fork (owners permitting), and answer
        with the removed versions."""
        tip = action.tip
        stored = self.stored(key)
        if stored is None:
            self._answer(key, action, NO_TREE, out, trace)
            return
        tree, access = stored
        if not access.may_write(action.reply.name):
            self._answer(key, action, NOT_OWNER, out, trace)
            return
        before = set(_versions(tree))
        try:
            tree.delete_branch_until_fork(tip)
        except VersionTreeError as exc:
            self._refuse(key, action, exc, out, trace)
            return
        removed = sorted(before - set(_versions(tree)))
        self._store(key, tree, access)
        out.note(VERSION_DELETED, key, trace, persona=self.persona.value, removed=len(removed),
                 tips=len(tree.get()), versions=len(tree))
        self._answer(key, action, VersionAnswerBody(True, removed=removed), out, trace)

    def _store(self, key: bytes, tree: StructuredDataVersions, access: TreeAccess) -> None:
        if len(tree):
            self.trees.put(key, {"tree": tree.to_record(), "access": access.to_record()})
        else:
            self.trees.delete(key)

    def _refuse(self, key: bytes, action: PutVersion | DeleteBranch, exc: VersionTreeError,
                out: Outbox, trace: bytes) -> None:
        self._answer(key, action, VersionAnswerBody(False, exc.code, str(exc)), out, trace)

    def _answer(self, key: bytes, action: PutVersion | DeleteBranch, body: VersionAnswerBody,
                out: Outbox, trace: bytes) -> None:
        self.answer_through_managers(key, action.id, action.reply, VERSION_RESULT, body, out,
                                     trace)

    # -- reads, straight from the client -------------------------------------------------------

    @handles(Action.GET_VERSIONS)
    def on_get_versions(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A client reads the tree's tips: answered from our own tree (readers permitting)."""
        tree = self._readable(msg, ctx, out)
        if tree is not None:
            self._read_answer(msg, VersionAnswerBody(True, versions=tree.get()), ctx, out)

    @handles(Action.GET_BRANCH)
    def on_get_branch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A client reads one branch back from its tip: answered from our own tree."""
        tip = msg.typed(BranchBody).tip
        tree = self._readable(msg, ctx, out)
        if tree is None:
            return
        try:
            body = VersionAnswerBody(True, versions=tree.get_branch(tip))
        except VersionTreeError as exc:
            body = VersionAnswerBody(False, exc.code, str(exc))
        self._read_answer(msg, body, ctx, out)

    def _readable(self, msg: Message, ctx: Context,
                  out: Outbox) -> StructuredDataVersions | None:
        """The tree a read asks for, if the reader may read it; otherwise the refusal is sent
        and None returned."""
        stored = self.stored(msg.dst.name)
        if stored is None:
            self._read_answer(msg, NO_TREE, ctx, out)
            return None
        tree, access = stored
        if not access.may_read(msg.src.name):
            self._read_answer(msg, NOT_OWNER, ctx, out)
            return None
        return tree

    def _read_answer(self, msg: Message, body: VersionAnswerBody, ctx: Context,
                     out: Outbox) -> None:
        self.answer_read(msg, Action.VERSION_ANSWER, body, ctx, out)


def _versions(tree: StructuredDataVersions) -> list[VersionName]:
    return [VersionName.from_record(entry[0]) for entry in tree.to_record()["versions"]]
