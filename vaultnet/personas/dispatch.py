"""The dispatch tables of a persona: `@handles(Action.X)` registers a method as its one handler
for an action, `@commits(Op.Y)` as its one commit of an agreed op, and `dispatch_tables` builds
a class's `HANDLERS` and `COMMITS` from them, so dispatch is a lookup, never a name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FunctionType, MappingProxyType
from typing import Any, TypeVar

from vaultnet.messages import Message
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.protocol import Action, Op
from vaultnet.xor import Name

Handler = Callable[[Any, Message, bytes, Context, Outbox], None]
"""A persona's handler for one `Action`: `(persona, msg, payload, ctx, out)`."""
Commit = Callable[[Any, Name, dict[str, Any], Context, Outbox, bytes], None]
"""A persona's commit of one agreed `Op`: `(persona, key, action, ctx, out, trace)`."""
HandlerT = TypeVar("HandlerT", bound=Handler)
CommitT = TypeVar("CommitT", bound=Commit)
_HANDLES: dict[Callable[..., None], Action] = {}
_COMMITS: dict[Callable[..., None], Op] = {}


def handles(action: Action) -> Callable[[HandlerT], HandlerT]:
    """Register the decorated method as its persona's one handler for `action`: the class's
    `HANDLERS` table is built from these when the class is created."""

    def register(fn: HandlerT) -> HandlerT:
        _HANDLES[fn] = action
        return fn

    return register


def commits(op: Op) -> Callable[[CommitT], CommitT]:
    """Register the decorated method as its persona's one commit of `op` (the `COMMITS`
    table), run by every member once the group agreed on an action with that op."""

    def register(fn: CommitT) -> CommitT:
        _COMMITS[fn] = op
        return fn

    return register


def dispatch_tables(cls: type) -> tuple[Mapping[Action, Handler], Mapping[Op, Commit]]:
    """`cls`'s handler and commit tables, from the methods registered with `handles` and
    `commits` along its MRO (a subclass's registration for an action replaces its base's).
    TypeError if one class registers two methods for the same action or op: each is handled
    exactly once."""
    handlers: dict[Action, Handler] = {}
    commit_table: dict[Op, Commit] = {}
    for klass in reversed(cls.__mro__):
        own_handlers: dict[Action, Handler] = {}
        own_commits: dict[Op, Commit] = {}
        for fn in vars(klass).values():
            if not isinstance(fn, FunctionType):
                continue
            action, op = _HANDLES.get(fn), _COMMITS.get(fn)
            if action is not None:
                if action in own_handlers:
                    raise TypeError(f"{klass.__qualname__} has two handlers for {action!r}")
                own_handlers[action] = fn
            if op is not None:
                if op in own_commits:
                    raise TypeError(f"{klass.__qualname__} has two commits of {op!r}")
                own_commits[op] = fn
        handlers.update(own_handlers)
        commit_table.update(own_commits)
    return MappingProxyType(handlers), MappingProxyType(commit_table)
