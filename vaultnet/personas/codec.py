"""The one field codec of the typed records vaults exchange: message bodies
(`personas/bodies.py`) and the sync actions a group agrees on (`personas/actions.py`).

A record is a frozen dataclass whose every field says in its annotation how it travels
(`Annotated[Name, NAME]`, a `Wire`): `WireRecord.from_map` checks each field of a received map
(a missing or malformed one is a `FrameError`) and `encode` gives back exactly the map the
network always sent: the fields in declaration order, under their wire keys, an optional
field that is None left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self, cast, get_type_hints

from vaultnet.wire import FrameError


@dataclass(frozen=True, slots=True)
class Wire:
    """How one field travels, given in its annotation (`Annotated[Name, NAME]`): its key if
    not the field's name, how a received value is checked (ValueError if it is malformed) and
    how a value is written."""

    read: Callable[[object], Any]
    write: Callable[[Any], object] = lambda value: value
    key: str | None = None
    absent: bool = False
    """Left out of the map when None (and None when the map has no such key)."""


_FIELDS: dict[type[WireRecord], list[tuple[str, str, Wire]]] = {}


def _fields_of(cls: type[WireRecord]) -> list[tuple[str, str, Wire]]:
    """`cls`'s fields, their keys and how each travels, in declaration (= wire) order."""
    spec = _FIELDS.get(cls)
    if spec is None:
        hints = get_type_hints(cls, include_extras=True)
        spec = []
        for f in fields(cast(Any, cls)):
            wire = next(m for m in hints[f.name].__metadata__ if isinstance(m, Wire))
            spec.append((f.name, wire.key or f.name, wire))
        _FIELDS[cls] = spec
    return spec


class WireRecord:
    """The base of every typed record that travels as a map: the one codec (`from_map`,
    `encode`) over its fields, so bodies and sync actions are checked the same way."""

    __slots__ = ()
    FIELD: ClassVar[str] = "field"
    """What a field of this record is called in a FrameError ("body field", ...)."""

    @classmethod
    def from_map(cls, raw: Mapping[str, Any]) -> Self:
        """The record in the map `raw`; FrameError if a field is missing or malformed."""
        values: dict[str, Any] = {}
        for attr, key, wire in _fields_of(cls):
            value = raw.get(key)
            if value is None and wire.absent:
                values[attr] = None
                continue
            try:
                values[attr] = wire.read(value)
            except (ValueError, FrameError) as exc:
                raise FrameError(f"{cls.FIELD} {key!r} missing or malformed: {exc}") from None
        return cls(**values)

    def encode(self) -> dict[str, Any]:
        """The map this record travels as."""
        raw: dict[str, Any] = {}
        for attr, key, wire in _fields_of(type(self)):
            value = getattr(self, attr)
            if value is not None or not wire.absent:
                raw[key] = wire.write(value)
        return raw
