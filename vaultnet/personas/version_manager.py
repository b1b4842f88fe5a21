"""VersionManager: the version tree (StructuredDataVersions) of each versioned item (seed 002).

Group: the vaults closest to the versioned item's 64-byte name. Record per item, keyed by that
name (so it moves with churn like every other group record): the tree's canonical record.

Mutations (put a version, delete a branch until its fork) come from the client's MaidManager
group, which checks the account first; they are accumulated (3 of 4 MaidManagers), agreed by
sync, then applied by every member to its own tree. Reads (tips, a branch) come straight from
the client and each member answers from its local tree; the client takes the answer a quorum of
members gave, so a member with a stale tree is outvoted.

Decisions:
* **Creation** is a put with no parent into an absent tree, carrying the limits; a put with a
  parent into an absent tree is refused ("no version tree"), so a typo in the key does not
  silently create a tree whose first version would become the root.
* **Answers to mutations go back through the client's MaidManagers** (`version_result`), which
  send them on and record them in their firewall (Uf): a client's retry of a put or delete
  whose answer was lost reaches the MaidManagers again and gets the recorded answer, where a
  direct answer would have left them nothing to give (seed 002 draws Uf at every group that
  answers a client). Reads are answered directly and recorded here.
* **No owner**: any account may put versions into or delete branches of any tree; two clients
  forking one tree is the intended use. The MaidManager's check is that the version's chunk is
  stored in the putting client's account.
* A put or delete answer lists the versions it removed, so the client can delete their chunks
  through the normal flow.
"""

from __future__ import annotations

from typing import Any

from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.base import (
    Context,
    GroupPersona,
    Outbox,
    body_bytes,
    new_id,
)
from vaultnet.personas.version_tree import (
    StructuredDataVersions,
    VersionName,
    VersionTreeError,
)
from vaultnet.routing import Parameters
from vaultnet.store import RecordStore
from vaultnet.wire import FrameError

VERSION_PUT = "version_put"
VERSION_DELETED = "version_deleted"
VERSION_RESULT = "version_result"
"""The VersionManagers' agreed answer to a put or delete, sent to the client's MaidManagers."""
DEFAULT_MAX_VERSIONS = 100
DEFAULT_MAX_BRANCHES = 10
LIMIT_CEILING = 10_000


def version_from_wire(raw: Any) -> VersionName | None:
    """A version (or None) from a message field; FrameError if malformed."""
    if raw is None:
        return None
    try:
        return VersionName.from_record(raw)
    except VersionTreeError as exc:
        raise FrameError(f"malformed version: {exc}") from exc


def limit_from_wire(raw: Any, default: int) -> int:
    if raw is None:
        return default
    if type(raw) is not int or not 1 <= raw <= LIMIT_CEILING:
        raise FrameError(f"version limits must be ints in 1..{LIMIT_CEILING}")
    return raw


class VersionManager(GroupPersona):
    persona = Persona.VERSION_MANAGER

    def __init__(self, params: Parameters, trees: RecordStore) -> None:
        super().__init__(params)
        self.trees = trees

    def transfer_stores(self) -> list[RecordStore]:
        return [self.trees]

    def tree(self, key: bytes) -> StructuredDataVersions | None:
        record = self.trees.get(key)
        return None if record is None else StructuredDataVersions.from_record(record)

    # -- mutations, from the MaidManager group -------------------------------------------------

    def on_put_version(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        key = msg.dst.name
        version = version_from_wire(msg.body.get("version"))
        if version is None:
            raise FrameError("put_version needs a version")
        action = {"op": "put_version", "parent": msg.body.get("parent"),
                  "version": version.to_record(),
                  "max_versions": limit_from_wire(msg.body.get("max_versions"),
                                                  DEFAULT_MAX_VERSIONS),
                  "max_branches": limit_from_wire(msg.body.get("max_branches"),
                                                  DEFAULT_MAX_BRANCHES)}
        version_from_wire(action["parent"])
        self._propose_for_client(key, msg, action, ctx, out)

    def on_delete_branch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        tip = version_from_wire(msg.body.get("tip"))
        if tip is None:
            raise FrameError("delete_branch needs a tip")
        self._propose_for_client(msg.dst.name, msg, {"op": "delete_branch",
                                                     "tip": tip.to_record()}, ctx, out)

    def _propose_for_client(self, key: bytes, msg: Message, action: dict[str, Any],
                            ctx: Context, out: Outbox) -> None:
        Authority.from_wire(msg.body.get("reply"))
        action.update(id=body_bytes(msg, "id", 16), reply=msg.body.get("reply"))
        self.propose(key, action, ctx, out, msg.trace_id)

    def commit_put_version(self, key: bytes, action: dict[str, Any], ctx: Context, out: Outbox,
                           trace: bytes) -> None:
        parent = version_from_wire(action["parent"])
        version = version_from_wire(action["version"])
        assert version is not None
        tree = self.tree(key)
        if tree is None:
            if parent is not None:
                self._answer(key, action, {"ok": False, "error": "NoSuchElement",
                                           "reason": "no version tree at this key"}, out, trace)
                return
            tree = StructuredDataVersions(action["max_versions"], action["max_branches"])
        try:
            dropped = tree.put(parent, version)
        except VersionTreeError as exc:
            self._refuse(key, action, exc, out, trace)
            return
        self._store(key, tree)
        out.note(VERSION_PUT, key, trace, persona=self.persona.value, index=version.index,
                 tips=len(tree.get()), versions=len(tree))
        removed = [] if dropped is None else [dropped.to_record()]
        self._answer(key, action, {"ok": True, "removed": removed}, out, trace)

    def commit_delete_branch(self, key: bytes, action: dict[str, Any], ctx: Context,
                             out: Outbox, trace: bytes) -> None:
        tip = version_from_wire(action["tip"])
        assert tip is not None
        tree = self.tree(key)
        if tree is None:
            self._answer(key, action, {"ok": False, "error": "NoSuchElement",
                                       "reason": "no version tree at this key"}, out, trace)
            return
        before = set(_versions(tree))
        try:
            tree.delete_branch_until_fork(tip)
        except VersionTreeError as exc:
            self._refuse(key, action, exc, out, trace)
            return
        removed = sorted(before - set(_versions(tree)))
        self._store(key, tree)
        out.note(VERSION_DELETED, key, trace, persona=self.persona.value, removed=len(removed),
                 tips=len(tree.get()), versions=len(tree))
        self._answer(key, action, {"ok": True, "removed": [v.to_record() for v in removed]},
                     out, trace)

    def _store(self, key: bytes, tree: StructuredDataVersions) -> None:
        if len(tree):
            self.trees.put(key, tree.to_record())
        else:
            self.trees.delete(key)

    def _refuse(self, key: bytes, action: dict[str, Any], exc: VersionTreeError, out: Outbox,
                trace: bytes) -> None:
        self._answer(key, action, {"ok": False, "error": type(exc).__name__,
                                   "reason": str(exc)}, out, trace)

    def _answer(self, key: bytes, action: dict[str, Any], body: dict[str, Any], out: Outbox,
                trace: bytes) -> None:
        client = Authority.from_wire(action["reply"]).name
        out.send(self.group_message(key, client, VERSION_RESULT,
                                    {"id": action["id"], "reply": action["reply"],
                                     "answer": body},
                                    trace, new_id(VERSION_RESULT, action["id"]),
                                    dst_persona=Persona.MAID_MANAGER))

    # -- reads, straight from the client -------------------------------------------------------

    def on_get_versions(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        tree = self.tree(msg.dst.name)
        body: dict[str, Any] = (
            {"ok": False, "error": "NoSuchElement", "reason": "no version tree at this key"}
            if tree is None else {"ok": True, "versions": [v.to_record() for v in tree.get()]})
        self._read_answer(msg, body, ctx, out)

    def on_get_branch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        tip = version_from_wire(msg.body.get("tip"))
        if tip is None:
            raise FrameError("get_branch needs a tip")
        tree = self.tree(msg.dst.name)
        body: dict[str, Any]
        if tree is None:
            body = {"ok": False, "error": "NoSuchElement",
                    "reason": "no version tree at this key"}
        else:
            try:
                body = {"ok": True, "versions": [v.to_record() for v in tree.get_branch(tip)]}
            except VersionTreeError as exc:
                body = {"ok": False, "error": type(exc).__name__, "reason": str(exc)}
        self._read_answer(msg, body, ctx, out)

    def _read_answer(self, msg: Message, body: dict[str, Any], ctx: Context,
                     out: Outbox) -> None:
        reply = self.group_message(msg.dst.name, msg.src.name, "version_answer", body,
                                   msg.trace_id, new_id("version_answer", msg.msg_id),
                                   dst_persona=msg.src.persona, dst_group=False,
                                   relay=msg.src.relay)
        out.send(reply)
        self.firewall.update(msg.sender + msg.msg_id, reply, ctx.now())


def _versions(tree: StructuredDataVersions) -> list[VersionName]:
    return [VersionName.from_record(entry[0]) for entry in tree.to_record()["versions"]]
