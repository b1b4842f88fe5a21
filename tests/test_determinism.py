"""Determinism at scale: 100 seeds, each run twice, give the same trace digest byte for byte.

Each run is a small scenario with every fault kind (4 vaults, 2 steps, 10 simulated seconds to
settle) on the simulator under trio's MockClock: the seed decides the network, the workload,
the faults and their timing, so any difference between two runs is a source of randomness or
ordering the seed does not control (a set iterated in hash order, the OS's randomness, the wall
clock). Whether a run's invariants hold is not the point here, only that both runs agree."""

from __future__ import annotations

import pytest

from vaultnet.testing.sweep import FAULTS, generate, run

SEEDS = 100
BATCHES = 4
"""The seeds split in batches so that pytest-xdist spreads them over the workers."""


@pytest.mark.parametrize("batch", range(BATCHES))
def test_100_seeds_twice_give_identical_traces(batch: int) -> None:
    differing = []
    traces = set()
    for seed in range(batch, SEEDS, BATCHES):
        scenario = generate(seed, 4, 2, tuple(FAULTS))
        first, second = run(scenario, settle=10), run(scenario, settle=10)
        traces.add(first.trace)
        if (first.trace, first.failure, first.acknowledged, first.refused) != (
                second.trace, second.failure, second.acknowledged, second.refused):
            differing.append(scenario.command())
    assert differing == [], f"runs that differ between two runs of one seed: {differing}"
    assert len(traces) > 1  # the runs did differ by seed (a run whose steps change nothing
    # observable after boot, a get on an empty network say, has the empty trace)
