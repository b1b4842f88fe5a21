"""Simulator boot benchmark: what one simulated vault costs to boot, so seed sweeps stay cheap.

`vaultnet bench sim [--vaults N ...] [--seed S] [--profile FILE]` boots `Testnet(vaults=N,
transport="sim", seed=S)` under trio's MockClock (autojump, so simulated seconds cost no wall
time) until it converges, for each N in turn, and prints per boot: CPU seconds (this process's,
`time.process_time`, and how many of them stopping the converged testnet took), wall seconds,
simulated seconds and when in them the last vault had joined (the rest is vaults learning the
neighbours they still miss), frames the simulator delivered and CPU microseconds per frame (a
boot that does not converge within the testnet's settle timeout is reported as such, with what
it cost until then). `--profile FILE` also writes a cProfile of the last boot to FILE (read it
with `python -m pstats FILE`). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import time
from dataclasses import dataclass

import trio

from vaultnet.cli.errors import Parser
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import NotSettled, Testnet
from vaultnet.transport.clock import virtual_clock


@dataclass(frozen=True)
class BootFigures:
    """One simulated boot's costs (what the bench prints, and tests can read)."""

    vaults: int
    cpu: float
    """The whole run's, the stop of every vault included (`stop_cpu` of it)."""
    stop_cpu: float
    """Of `cpu`, what stopping the converged testnet took: cancelling every connection's
    tasks and closing every vault's files."""
    wall: float
    simulated: float
    joined: float
    """Simulated seconds until the last vault was up (joined): the boot's joins, without the
    convergence that follows them."""
    frames: int
    converged: bool
    """False: the boot gave up at the testnet's settle timeout (`NotSettled`)."""


async def _boot(vaults: int, seed: int) -> tuple[float, float, int, bool, float]:
    """(simulated seconds, those until the last vault was up, frames delivered, whether it
    converged, process CPU seconds when it had converged and began to stop) for `vaults` sim
    vaults to boot and converge (or give up at the testnet's settle timeout: then 0.0)."""
    started = trio.current_time()
    net = Testnet(vaults=vaults, transport="sim", seed=seed)
    assert net.sim is not None
    up = [started]
    net.bus.add_sink(lambda e: up.append(e.time) if isinstance(e, ev.VaultUp) else None)
    stopping = 0.0
    try:
        async with net:
            stopping = time.process_time()
            converged = True
    except NotSettled:
        converged = False
    return (trio.current_time() - started, max(up) - started, net.sim.delivered, converged,
            stopping)


def measure_boot(vaults: int, seed: int, profiler: cProfile.Profile | None = None
                 ) -> BootFigures:
    """Boot `vaults` simulated vaults on a MockClock and time it (profiled if `profiler`)."""
    cpu, wall = time.process_time(), time.perf_counter()
    clock = virtual_clock()
    with profiler or contextlib.nullcontext():
        simulated, joined, frames, converged, stopping = trio.run(_boot, vaults, seed,
                                                                  clock=clock)
    ended = time.process_time()
    return BootFigures(vaults, ended - cpu, ended - stopping if stopping else 0.0,
                       time.perf_counter() - wall, simulated, joined, frames, converged)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator boot benchmark from the command line; returns the exit status."""
    parser = Parser(prog="vaultnet bench sim", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vaults", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the last boot")
    args = parser.parse_args(argv)
    for index, vaults in enumerate(args.vaults):
        profiler = (cProfile.Profile() if args.profile and index == len(args.vaults) - 1
                    else None)
        figures = measure_boot(vaults, args.seed, profiler)
        if profiler is not None:
            profiler.dump_stats(args.profile)
        outcome = "" if figures.converged else " (NOT CONVERGED: gave up)"
        print(f"boot {vaults} sim vaults, seed {args.seed}{outcome}: {figures.cpu:.1f} s CPU "
              f"({figures.stop_cpu:.1f} of it stopping), "
              f"{figures.wall:.1f} s wall, {figures.simulated:.1f} s simulated "
              f"(joined at {figures.joined:.1f} s), "
              f"{figures.frames:,} frames, "
              f"{figures.cpu / max(figures.frames, 1) * 1e6:.0f} µs CPU per frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
