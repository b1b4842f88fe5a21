"""Churn benchmark and soak: how long replication takes to recover, what churn costs, and the
churn scenario over many seeds.

`vaultnet bench churn [--vaults N] [--chunks N] [--events N] [--seeds N] [--first-seed S]`
runs the simulator under trio's MockClock, so simulated seconds cost no wall time:

- restore: one kill at `--vaults` vaults holding `--chunks` chunks; simulated and wall seconds
  (the checker's own time left out) until every copy is back at its holders and every group
  agrees, to the nearest 0.05 simulated seconds;
- soak: for each seed, `--events` random kills and adds, each settled and checked (see
  `vaultnet.testing.churn_scenario`), then every chunk fetched; reports lost chunks, messages per
  churn event and the slowest recovery. A failure prints the seed and what was wrong.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from vaultnet.cli.errors import Parser
from vaultnet.runtime import events as ev
from vaultnet.runtime.invariants import replication_ok
from vaultnet.runtime.testnet import NotSettled, Testnet
from vaultnet.testing.churn_scenario import run_churn
from vaultnet.transport.clock import virtual_clock

T = TypeVar("T")
POLL = 0.05


async def _restore_after_one_kill(vaults: int, chunks: int, seed: int) -> tuple[float, float,
                                                                                 int]:
    """(simulated s, wall s, messages) from one kill to full replication."""
    async with Testnet(vaults=vaults, transport="sim", seed=seed) as net:
        client = await net.client()
        names = [await client.put(bytes([i % 256]) * 1024 + i.to_bytes(4, "big"))
                 for i in range(chunks)]
        await net.wait_for(lambda: replication_ok(net, names), 120, "initial placement",
                           every=POLL)
        received = [0]
        net.bus.add_sink(lambda e: received.__setitem__(0, received[0] + 1)
                         if isinstance(e, ev.MessageReceived) else None)
        victim = max(net.vaults, key=lambda v: len(v.stored()))  # the one holding most
        sim_start, wall_start = trio.current_time(), time.perf_counter()
        await net.kill_vault(victim.name)
        # Poll every POLL simulated seconds: checking the (brute-force, sqlite-reading)
        # invariant after every event would cost more wall time than the recovery itself.
        checking = 0.0
        while True:
            await trio.sleep(POLL)
            check_start = time.perf_counter()
            done = net.converged() and replication_ok(net, names)
            checking += time.perf_counter() - check_start
            if done:
                break
            if trio.current_time() - sim_start > 120:
                raise NotSettled("replication not restored within 120 s")
        wall = time.perf_counter() - wall_start - checking
        return trio.current_time() - sim_start, wall, received[0]


async def _soak(vaults: int, chunks: int, events: int, seed: int) -> tuple[int, list[int],
                                                                          list[float]]:
    async with Testnet(vaults=vaults, transport="sim", seed=seed) as net:
        report = await run_churn(net, chunks, events, seed)
        return len(report.lost), report.messages, report.settle_times


def _run(fn: Callable[..., Awaitable[T]], *args: object) -> T:
    """trio.run on the virtual clock: simulated waits cost no wall time."""
    return trio.run(fn, *args, clock=virtual_clock())


def _unsettled(exc: BaseException) -> NotSettled | None:
    """The NotSettled inside `exc` (trio wraps it in exception groups), if that is what it is."""
    if isinstance(exc, NotSettled):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _unsettled(inner)) is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the churn benchmark from the command line; returns the process exit status."""
    parser = Parser(prog="vaultnet bench churn", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vaults", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--events", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args(argv)

    simulated, wall, messages = _run(_restore_after_one_kill, args.vaults, args.chunks, 1)
    print(f"restore after one kill ({args.vaults} vaults, {args.chunks} chunks): "
          f"{simulated:.2f} s simulated, {wall:.2f} s wall, {messages} messages")
    failures = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        started = time.perf_counter()
        try:
            lost, per_event, settle = _run(_soak, args.vaults, args.chunks, args.events, seed)
        except BaseException as exc:
            unsettled = _unsettled(exc)
            if unsettled is None:
                raise
            failures += 1
            print(f"seed {seed}: FAILED: {unsettled}")
            continue
        failures += bool(lost)
        print(f"seed {seed}: {args.events} events, lost {lost}, messages/event median "
              f"{statistics.median(per_event):,.0f} max {max(per_event):,}, slowest recovery "
              f"{max(settle):.2f} s simulated, {time.perf_counter() - started:.0f} s wall")
    print(f"{args.seeds - failures} of {args.seeds} seeds kept every chunk and its replication")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
