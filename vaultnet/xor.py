"""64-byte names and XOR distance: the geometry every responsibility decision is made in."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

NAME_SIZE = 64
NAME_BITS = NAME_SIZE * 8

Name = bytes


def name_of(data: bytes) -> Name:
    """The network name of a piece of content (self-validating: SHA-512)."""
    return hashlib.sha512(data).digest()


def distance(a: Name, b: Name) -> int:
    """XOR distance, compared as a big integer."""
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


def closest(target: Name, names: Iterable[Name], k: int | None = None) -> list[Name]:
    """`names` sorted by distance to `target`, the first `k` of them (all if k is None).

    Sorts (distance, name) pairs built by C-level maps, with no Python key function: this runs
    for every responsibility decision, and a key lambda per name was most of its cost."""
    pool = names if isinstance(names, list | tuple) else list(names)
    return closest_of_points(target, pool, map(int.from_bytes, pool), k)


def closest_of_points(target: Name, names: list[Name] | tuple[Name, ...],
                      points: Iterable[int], k: int | None = None) -> list[Name]:
    """`closest`, given each name as its integer (`points`, in the order of `names`): a table
    that answers many targets converts its names once, not once per target."""
    if not names:
        return []
    pairs = zip(map(int.from_bytes(target, "big").__xor__, points), names, strict=True)
    if k == 1:
        return [min(pairs)[1]]
    ordered = sorted(pairs)
    return [n for _, n in (ordered if k is None else ordered[:k])]


def bucket_index(a: Name, b: Name) -> int:
    """Kademlia bucket of `b` as seen from `a`: 0 for the far half, higher for closer names.

    The index is the length of the common prefix, so bucket i holds names that first differ
    from `a` at bit i (counting from the most significant bit).
    """
    d = distance(a, b)
    if d == 0:
        return NAME_BITS
    return NAME_BITS - d.bit_length()


def random_name(rng: random.Random) -> Name:
    """A random node name from `rng` (seeded, so a simulated network reproduces)."""
    return rng.randbytes(NAME_SIZE)


def name_in_bucket(base: Name, index: int, rng: random.Random) -> Name:
    """A random name that shares exactly `index` leading bits with `base`."""
    b = int.from_bytes(base, "big")
    flip = 1 << (NAME_BITS - 1 - index)
    low = rng.getrandbits(NAME_BITS - 1 - index) if index < NAME_BITS - 1 else 0
    keep_mask = ~((flip << 1) - 1) & ((1 << NAME_BITS) - 1)
    value = (b & keep_mask) | ((b ^ flip) & flip) | low
    return value.to_bytes(NAME_SIZE, "big")


def short(name: Name, chars: int = 8) -> str:
    """Hex prefix for display."""
    return name.hex()[:chars]
