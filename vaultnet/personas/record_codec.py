"""Decoding the records members exchange (transferred copies, and the maps agreed actions are
read from: `personas/actions.py`) from the canonical bytes `vaultnet.storage.records.encode`
gives them: anything that is not a map is a `FrameError`."""

from __future__ import annotations

from typing import Any

import msgpack

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

