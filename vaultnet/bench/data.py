"""Put / get benchmark on a real TCP testnet: throughput, latency percentiles, and the cost of
the messages behind each put.

`python -m vaultnet.bench.data [--vaults N] [--count N] [--sizes 1KiB 1MiB] [--in-flight 1 32]
[--repeat R] [--processes P] [--transport sim --seed S]` (or `vaultnet bench data ...`).

`--transport sim` runs the same rounds on the seeded simulator under trio's MockClock, with
chunks drawn from the seed: the same work every run (the same messages and frames per put), so
two versions of the code can be compared on equal work, though the CPU that work costs still
varies with the machine's load (alternate the runs). The network's latencies cost no wall time
there: puts/s and latencies are those of a network whose only cost is this process's CPU.

With `--processes P` the testnet's vaults are shared out over this process and P-1 worker
processes (`Testnet(processes=P)`); the client always runs in this one.

Per round: puts/s, put and get latency, requests that failed (timed out), messages and frames
per put (summed over every vault in every process), messages handled per second, and the CPU
time of all the processes (this one and the workers) per message handled. The slowest put is
shown beside p99: one put of 100 that waits seconds for a resend leaves p99 alone but halves
puts/s at 1 in flight. With `--repeat R` each figure is the median over R rounds. Figures are
printed, never asserted: this machine is noisy, compare medians from one run.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Literal

import trio

from vaultnet.cli.errors import Parser
from vaultnet.client.maid import ClientError
from vaultnet.runtime.testnet import Testnet
from vaultnet.runtime.worker_pool import process_totals
from vaultnet.transport.clock import virtual_clock
from vaultnet.xor import name_of

SIZES = {"1KiB": 1024, "1MiB": 1 << 20}
SETTLE = 1.0
"""Seconds after the last put is acknowledged before messages are counted: the Backup and
Sacrificial stores it started are still under way."""


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` by nearest rank (p50, p99 of latencies)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _timed(jobs: list[Callable[[], Awaitable[object]]],
                 in_flight: int) -> tuple[float, list[float], int]:
    """Run `jobs`, `in_flight` at a time: wall seconds, latencies of those that succeeded, and
    how many failed (an overloaded network times requests out; that is a figure too)."""
    latencies: list[float] = []
    failed = [0]
    limit = trio.Semaphore(in_flight)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with limit:
            t = time.perf_counter()
            try:
                await job()
            except ClientError:
                failed[0] += 1
                return
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for job in jobs:
            nursery.start_soon(one, job)
    return time.perf_counter() - start, latencies or [math.nan], failed[0]


async def _totals(net: Testnet) -> dict[str, float]:
    """Messages, frames and CPU seconds so far of every process: this one's vaults and the
    workers' (whose vaults our `net.vaults` does not hold)."""
    own = process_totals(net.vaults)
    theirs = await net.workers.totals()
    return {key: own[key] + theirs[key] for key in own}


async def _round(net: Testnet, put: Callable[[bytes], Awaitable[object]],
                 get: Callable[[bytes], Awaitable[object]], size: int, n: int,
                 in_flight: int, chunks: Callable[[int], bytes]) -> dict[str, float]:
    """One round of `n` puts then `n` gets of `size` bytes (drawn by `chunks`), `in_flight`
    at a time."""
    datas = [chunks(size) for _ in range(n)]
    before = await _totals(net)
    elapsed, put_lat, put_failed = await _timed([partial(put, d) for d in datas], in_flight)
    messages_timed = (await _totals(net))["messages"] - before["messages"]
    await trio.sleep(SETTLE)
    after = await _totals(net)
    messages = after["messages"] - before["messages"]
    get_elapsed, get_lat, get_failed = await _timed([partial(get, name_of(d)) for d in datas],
                                                    in_flight)
    return {"puts/s": n / elapsed, "put p50 ms": 1e3 * statistics.median(put_lat),
            "put p99 ms": 1e3 * percentile(put_lat, 0.99), "put max ms": 1e3 * max(put_lat),
            "gets/s": n / get_elapsed,
            "get p50 ms": 1e3 * statistics.median(get_lat),
            "get p99 ms": 1e3 * percentile(get_lat, 0.99), "msgs/put": messages / n,
            "frames/put": (after["frames"] - before["frames"]) / n,
            "msgs/s": messages_timed / elapsed,
            "cpu us/msg": 1e6 * (after["cpu"] - before["cpu"]) / max(1, messages),
            "failed": put_failed + get_failed}


async def run(vaults: int, count: int, sizes: list[str] | None = None,
              in_flights: list[int] | None = None, repeat: int = 1,
              processes: int = 1, seed: int | None = None) -> list[dict[str, object]]:
    """Every (size, in flight) round on one fresh testnet over `processes` processes (on the
    simulator seeded with `seed`, if given, with chunks drawn from it); each figure the median
    of `repeat`."""
    rows: list[dict[str, object]] = []
    transport: Literal["tcp", "sim"] = "tcp" if seed is None else "sim"
    chunks = os.urandom if seed is None else random.Random(seed).randbytes
    async with Testnet(vaults=vaults, transport=transport, seed=seed,
                       processes=processes) as net:
        client = await net.client()
        for label in sizes or list(SIZES):
            size = SIZES[label]
            n = count if size < (1 << 20) else max(4, count // 8)
            for in_flight in in_flights or [1, 32]:
                rounds = [await _round(net, client.put, client.get, size, n, in_flight, chunks)
                          for _ in range(repeat)]
                row: dict[str, object] = {"transport": transport, "size": label,
                                          "in_flight": in_flight, "n": n,
                                          "processes": processes}
                row.update({k: statistics.median(r[k] for r in rounds) for k in rounds[0]})
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the rounds, print one table row per (size, in flight)."""
    parser = Parser(prog="vaultnet bench data", description=__doc__)
    parser.add_argument("--vaults", type=int, default=32)
    parser.add_argument("--count", type=int, default=64, help="1 KiB chunks per round")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--in-flight", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--repeat", type=int, default=1, help="rounds per row (median shown)")
    parser.add_argument("--processes", type=int, default=1,
                        help="processes running the vaults (this one and P-1 workers)")
    parser.add_argument("--transport", choices=["tcp", "sim"], default="tcp",
                        help="sim: the seeded simulator, the same work every run")
    parser.add_argument("--seed", type=int, help="the simulator's seed (default 1)")
    args = parser.parse_args(argv)
    if args.transport == "sim" and args.processes != 1:
        parser.error("--transport sim runs in one process (--processes 1)")
    if args.transport == "tcp" and args.seed is not None:
        parser.error("--seed is the simulator's: give it with --transport sim")
    seed = (1 if args.seed is None else args.seed) if args.transport == "sim" else None
    clock = virtual_clock() if seed is not None else None
    rows = trio.run(run, args.vaults, args.count, args.sizes, args.in_flight, args.repeat,
                    args.processes, seed, clock=clock)
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.1f}" if isinstance(row[k], float) else str(row[k])
                         for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
