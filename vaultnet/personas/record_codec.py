"""Decoding the records and agreed actions members exchange (sync votes, transferred copies)
from the canonical bytes `vaultnet.storage.records.encode` gives them: anything that is not a
map, or an action naming no `Op`, is a `FrameError`."""

from __future__ import annotations

from typing import Any

import msgpack

from vaultnet.protocol import Op
from vaultnet.wire import FrameError


def decode_record(data: bytes) -> dict[str, Any]:
    """A record (or action) map from its msgpack bytes; FrameError if it is not one."""
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, max_bin_len=1 << 20)
    except Exception as exc:
        raise FrameError("undecodable record") from exc
    if not isinstance(value, dict):
        raise FrameError("a record must be a map")
    return value


def decode_action(data: bytes) -> dict[str, Any]:
    """An agreed action record from its canonical bytes, its `op` as an `Op`: FrameError if
    it is not a map or names no op (a malformed vote never reaches a commit)."""
    value = decode_record(data)
    value["op"] = Op.decode(value.get("op"))
    return value
