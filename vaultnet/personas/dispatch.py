"""The dispatch tables of a persona: `@handles(Action.X)` registers a method as its one handler
for an action, `@commits(SomeAction)` as its one commit of the agreed actions of that class
(`personas/actions.py`), and `dispatch_tables` builds a class's `HANDLERS` and `COMMITS` from
them, so dispatch is a lookup, never a name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FunctionType, MappingProxyType
from typing import Any, NamedTuple, TypeVar

from vaultnet.messages import Message
from vaultnet.personas.actions import SyncAction
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.protocol import Action, Op
from vaultnet.xor import Name

Handler = Callable[[Any, Message, bytes, Context, Outbox], None]
"""A persona's handler for one `Action`: `(persona, msg, payload, ctx, out)`."""
ActionT = TypeVar("ActionT", bound=SyncAction)
CommitOf = Callable[[Any, Name, ActionT, Context, Outbox, bytes], None]
"""A persona's commit of the agreed actions of one class: `(persona, key, action, ctx, out,
trace)`."""
Commit = CommitOf[Any]
"""A commit in a `COMMITS` table: its action is an instance of the class its `Committer`
names."""
HandlerT = TypeVar("HandlerT", bound=Handler)
_HANDLES: dict[Callable[..., None], Action] = {}
_COMMITS: dict[Callable[..., None], type[SyncAction]] = {}


class Committer(NamedTuple):
    """A persona's `COMMITS` entry for one op: the class its agreed actions are decoded into,
    and the commit that runs them."""

    action: type[SyncAction]
    commit: Commit


def handles(action: Action) -> Callable[[HandlerT], HandlerT]:
    """Register the decorated method as its persona's one handler for `action`: the class's
    `HANDLERS` table is built from these when the class is created."""

    def register(fn: HandlerT) -> HandlerT:
        _HANDLES[fn] = action
        return fn

    return register


def commits(action: type[ActionT]) -> Callable[[CommitOf[ActionT]], CommitOf[ActionT]]:
    """Register the decorated method as its persona's one commit of `action.OP` (the `COMMITS`
    table), run by every member once the group agreed on an action with that op, decoded
    into `action`."""

    def register(fn: CommitOf[ActionT]) -> CommitOf[ActionT]:
        _COMMITS[fn] = action
        return fn

    return register


def dispatch_tables(cls: type) -> tuple[Mapping[Action, Handler], Mapping[Op, Committer]]:
    """`cls`'s handler and commit tables, from the methods registered with `handles` and
    `commits` along its MRO (a subclass's registration for an action replaces its base's).
    TypeError if one class registers two methods for the same action or op: each is handled
    exactly once."""
    handlers: dict[Action, Handler] = {}
    commit_table: dict[Op, Committer] = {}
    for klass in reversed(cls.__mro__):
        own_handlers: dict[Action, Handler] = {}
        own_commits: dict[Op, Committer] = {}
        for fn in vars(klass).values():
            if not isinstance(fn, FunctionType):
                continue
            action, committed = _HANDLES.get(fn), _COMMITS.get(fn)
            if action is not None:
                if action in own_handlers:
                    raise TypeError(f"{klass.__qualname__} has two handlers for {action!r}")
                own_handlers[action] = fn
            if committed is not None:
                if committed.OP in own_commits:
                    raise TypeError(f"{klass.__qualname__} has two commits of {committed.OP!r}")
                own_commits[committed.OP] = Committer(committed, fn)
        handlers.update(own_handlers)
        commit_table.update(own_commits)
    return MappingProxyType(handlers), MappingProxyType(commit_table)
