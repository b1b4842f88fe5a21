"""The control port's commands and their arguments: what each takes, and the check that turns
an authenticated request into a `Checked` command or an error reply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from vaultnet.client.maid import MAX_CHUNK_SIZE
from vaultnet.control.protocol import RequestError
from vaultnet.control.reading import Query, ReadingError
from vaultnet.messages import ID_SIZE
from vaultnet.personas.mpid_manager import MAX_BODY
from vaultnet.personas.structured_data import MAX_DATA_SIZE
from vaultnet.personas.version_tree import VersionName, VersionTreeError
from vaultnet.xor import NAME_SIZE

MAX_ARG = 256
"""Longest argument: a vault name is 128 hex characters, a fault kind a word."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    if len(value) > MAX_ARG:
        raise ValueError(f"is longer than {MAX_ARG} characters")
    return value


def _exact_bytes(size: int) -> Callable[[object], bytes]:
    def check(value: object) -> bytes:
        if not isinstance(value, bytes) or len(value) != size:
            raise ValueError(f"must be {size} bytes")
        return value
    return check


def _version(value: object) -> VersionName:
    try:
        return VersionName.from_record(value)
    except VersionTreeError:
        raise ValueError("must be a version [index, 64-byte id]") from None


def _parent(value: object) -> VersionName | None:
    return None if value is None else _version(value)


def _message(value: object) -> bytes:
    if not isinstance(value, bytes) or not 0 < len(value) <= MAX_BODY:
        raise ValueError(f"must be 1 to {MAX_BODY} bytes")
    return value


def _query(value: object) -> Query:
    try:
        return Query.from_record(value)
    except ReadingError as exc:
        raise ValueError(str(exc)) from None


class Argument(NamedTuple):
    """One argument of a command: its name in the usage line and its check, which returns
    the value to use, or raises TypeError (not text where text is due) or ValueError."""

    label: str
    check: Callable[[object], Any]


_NAME, _KIND = Argument("NAME", _text), Argument("KIND", _text)
_CHUNK, _KEY = Argument("CHUNK", _exact_bytes(NAME_SIZE)), Argument("KEY", _exact_bytes(NAME_SIZE))
_TRACE = Argument("TRACE", _exact_bytes(ID_SIZE))
_RECORD = Argument("RECORD", _exact_bytes(NAME_SIZE))
ARGUMENTS: dict[str, tuple[Argument, ...]] = {
    "status": (), "add": (), "kill": (_NAME,), "restart": (_NAME,), "fault": (_NAME, _KIND),
    "subscribe": (), "session": (), "read": (Argument("QUERY", _query),),
    "put": (_TRACE,), "put_unique": (_TRACE,), "get": (_CHUNK,), "delete": (_CHUNK,),
    "put_version": (_KEY, Argument("PARENT", _parent), _TRACE),
    "delete_branch": (_KEY, Argument("TIP", _version), _TRACE),
    "send": (Argument("FROM", _text), Argument("TO", _text), Argument("TEXT", _message),
             _TRACE),
    "toggle": (Argument("MPID", _text), _TRACE),
    "put_structured": (_RECORD, _TRACE), "update_structured": (_RECORD, _TRACE),
    "delete_structured": (_RECORD, _TRACE),
}
"""Each command and its arguments: text for `vaultnet ctl`'s commands, typed values for the
attached dashboard's."""
CONTENT_SIZES: dict[str, tuple[int, int]] = {
    "put": (1, MAX_CHUNK_SIZE), "put_unique": (1, MAX_CHUNK_SIZE),
    "put_version": (1, MAX_CHUNK_SIZE),
    "put_structured": (0, MAX_DATA_SIZE), "update_structured": (0, MAX_DATA_SIZE),
}
"""Commands followed by a content frame, and the fewest and most bytes it may hold (a chunk is
never empty; a record's data may be)."""


@dataclass
class Checked:
    """A well-formed request with the right token: the command, its checked arguments and,
    for CONTENT_SIZES, the content frame's bytes (filled in once read)."""

    command: str
    args: list[Any]
    content: bytes = b""


def _usage(command: str) -> str:
    return " ".join((command, *(a.label for a in ARGUMENTS[command])))


def checked(command: object, args: object) -> Checked:
    """`command` with its arguments checked against ARGUMENTS; RequestError otherwise."""
    if not isinstance(command, str):
        raise RequestError("malformed", "the command must be a string")
    if command not in ARGUMENTS:
        raise RequestError("command", f"unknown command {command[:32]!r} (commands: "
                                      f"{', '.join(ARGUMENTS)})")
    if not isinstance(args, list):
        raise RequestError("malformed", "arguments must be a list of strings (or of the "
                                        "typed values a command takes)")
    spec = ARGUMENTS[command]
    usage = (f"usage: {_usage(command)} (arguments of at most {MAX_ARG} characters)"
             if all(a.check is _text for a in spec) else f"usage: {_usage(command)}")
    if len(args) != len(spec):
        raise RequestError("command", usage)
    values = []
    for argument, value in zip(spec, args, strict=True):
        try:
            values.append(argument.check(value))
        except TypeError:
            raise RequestError("malformed", "arguments must be a list of strings "
                                            f"({argument.label} is not one)") from None
        except ValueError as exc:
            raise RequestError("command", f"{usage}: {argument.label} {exc}") from None
    return Checked(command, values)
