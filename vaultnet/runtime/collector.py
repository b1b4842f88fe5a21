"""Keep Python's cycle collector from stalling a process full of vaults.

A full pass of the collector walks every object it tracks: about 0.3 s at 128 simulated vaults
(730,000 objects: every connection's tasks, channels and cancel scopes, every table), 5.5 s at
1,000 (6.5 million), during which no vault in the process runs. CPython considers one after
every 10 passes of the middle generation (about 70,000 allocations) and runs it once the
objects promoted since the last one reach a quarter of the old generation, so a heap that
grows, as a boot's does, pays a full pass per 25% of growth: 11 in a 128-vault boot, a third
of its CPU.

`tune_collector` makes full passes `FULL_PASS_AFTER / 10` times rarer and leaves the young
and middle generations as they are: short pauses, and cycles that die young (most of them:
a closed connection's tasks, a cancelled lookup) freed as soon as before. Cyclic garbage that
reached the old generation waits for the next full pass, which still comes (`bench memory`
stays flat, `docs/budgets.md`). At 100 a 1,000-vault simulated boot still paid 15 full passes
(82 s of its 317 s CPU, seed 1); at 1,000 one (6.7 s of 217 s). Young passes every 20,000
allocations instead of 700 (fewer middle passes, so fewer chances) did as well at 1,000 vaults,
but cost 60 MiB more at 256. The `vaultnet` commands apply it at start, as they do
`allocator`; the library leaves the process's collector alone (a test suite may call it from
its conftest, as ours does).
"""

from __future__ import annotations

import gc

FULL_PASS_AFTER = 1_000
"""Middle-generation passes between two chances of a full pass (CPython's default: 10)."""


def tune_collector() -> None:
    """Consider a full collection only every FULL_PASS_AFTER middle-generation passes."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_AFTER)
