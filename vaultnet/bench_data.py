"""Put / get benchmark on a real TCP testnet: throughput, latency percentiles, messages per put.

`python -m vaultnet.bench_data [--vaults N] [--count N]` (or `vaultnet bench data`). Figures
are printed, never asserted: this machine is noisy, compare medians from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial

import trio

from vaultnet import events as ev
from vaultnet.testnet import Testnet
from vaultnet.xor import name_of

SIZES = {"1KiB": 1024, "1MiB": 1 << 20}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _timed(jobs: list[Callable[[], Awaitable[object]]], in_flight: int) -> tuple[float,
                                                                                     list[float]]:
    latencies: list[float] = []
    limit = trio.Semaphore(in_flight)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with limit:
            t = time.perf_counter()
            await job()
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for job in jobs:
            nursery.start_soon(one, job)
    return time.perf_counter() - start, latencies


async def run(vaults: int, count: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    async with Testnet(vaults=vaults, transport="tcp") as net:
        received = [0]
        net.bus.add_sink(lambda e: received.__setitem__(0, received[0] + 1)
                         if isinstance(e, ev.MessageReceived) else None)
        client = await net.client()
        for label, size in SIZES.items():
            n = count if size < (1 << 20) else max(4, count // 8)
            for in_flight in (1, 32):
                datas = [os.urandom(size) for _ in range(n)]
                before = received[0]
                elapsed, put_lat = await _timed(
                    [partial(client.put, d) for d in datas], in_flight)
                await trio.sleep(1.0)  # let Backup/Sacrificial stores finish before counting
                per_put = (received[0] - before) / n
                names = [name_of(d) for d in datas]
                get_elapsed, get_lat = await _timed(
                    [partial(client.get, nm) for nm in names], in_flight)
                rows.append({"size": label, "in_flight": in_flight, "n": n,
                             "puts/s": n / elapsed, "put p50 ms": 1e3 * statistics.median(put_lat),
                             "put p99 ms": 1e3 * percentile(put_lat, 0.99),
                             "gets/s": n / get_elapsed,
                             "get p50 ms": 1e3 * statistics.median(get_lat),
                             "get p99 ms": 1e3 * percentile(get_lat, 0.99),
                             "msgs/put": per_put})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vaultnet bench data", description=__doc__)
    parser.add_argument("--vaults", type=int, default=32)
    parser.add_argument("--count", type=int, default=64, help="1 KiB chunks per round")
    args = parser.parse_args(argv)
    rows = trio.run(run, args.vaults, args.count)
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.1f}" if isinstance(row[k], float) else str(row[k])
                         for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
