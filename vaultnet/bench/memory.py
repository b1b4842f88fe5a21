"""Memory benchmark: resident memory and per-vault table sizes under sustained puts.

`vaultnet bench memory [--vaults 16] [--puts 2000] [--size 4096] [--warmup 200]` starts a TCP
testnet in this process, puts random chunks through one client (`--in-flight` at a time), and
every `--every` puts prints the process's resident set (VmRSS from /proc/self/status) and the
sizes of the bounded tables summed over vaults. At the end it prints the growth after warm-up
(the figure the per-vault budgets in docs/budgets.md are for), then idles `--idle` seconds and
prints what the time windows gave back. `--tracemalloc` adds the allocation sites that grew most
between the end of warm-up and the end of the run (slow; for finding what still grows).

Figures are printed, never asserted: this machine is noisy.
"""

from __future__ import annotations

import _sqlite3
import argparse
import ctypes
import os
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

import trio

from vaultnet.cli.errors import Parser
from vaultnet.runtime.testnet import Testnet
from vaultnet.runtime.vault import Vault
from vaultnet.runtime.vault_state import bounded_tables

TABLES = ("seen", "accumulator", "firewall", "sync", "stash", "stash_kib", "waiting",
          "transfers", "cache")


def rss_kib(pid: int | str = "self") -> int:
    """Resident set of process `pid` (this one by default) in KiB, 0 where /proc cannot be
    read: benches sum it over a testnet's worker processes too."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib() -> float:
    """This process's resident set in MiB (0.0 where /proc is not available)."""
    return rss_kib() / 1024


def _sqlite_memory_used() -> Callable[[], int] | None:
    """sqlite3_memory_used() of the library Python's sqlite3 module runs on, if reachable."""
    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    return used


SQLITE_MEMORY_USED = _sqlite_memory_used()


def sqlite_mib() -> float:
    """Memory sqlite holds for every database of this process (page caches above all), MiB."""
    return SQLITE_MEMORY_USED() / (1 << 20) if SQLITE_MEMORY_USED is not None else 0.0


def table_sizes(vaults: Iterable[Vault]) -> dict[str, int]:
    """Entries in each bounded per-vault table, summed over `vaults` (stash also in KiB)."""
    sizes = dict.fromkeys(TABLES, 0)
    for vault in vaults:
        for table, size in bounded_tables(vault).items():
            sizes[table] += size
    return sizes


def _line(puts: int, elapsed: float, sizes: dict[str, int]) -> str:
    tables = " ".join(f"{k}={v}" for k, v in sizes.items())
    heap = (f"python={tracemalloc.get_traced_memory()[0] / (1 << 20):5.1f}MiB "
            if tracemalloc.is_tracing() else "")
    return (f"puts={puts:5d} t={elapsed:6.1f}s rss={rss_mib():7.1f}MiB "
            f"sqlite={sqlite_mib():5.1f}MiB {heap}{tables}")


async def run(vaults: int, puts: int, size: int, warmup: int, in_flight: int, every: int,
              idle: float, trace_heap: bool) -> None:
    """Run the workload and print the figures (see the module docstring)."""
    async with Testnet(vaults=vaults, transport="tcp") as net:
        client = await net.client()
        start = time.perf_counter()
        print(_line(0, 0.0, table_sizes(net.vaults)), flush=True)
        done, failed = [0], [0]
        baseline: list[float] = []
        heap: list[tracemalloc.Snapshot] = []
        limit = trio.Semaphore(in_flight)

        async def one() -> None:
            try:
                await client.put(os.urandom(size))
            except Exception as exc:  # a failed put is a figure too, not the end of the run
                failed[0] += 1
                print(f"put failed: {type(exc).__name__}: {exc}", flush=True)
            finally:
                limit.release()
            done[0] += 1
            if done[0] % every == 0 or done[0] == puts:
                print(_line(done[0], time.perf_counter() - start, table_sizes(net.vaults)),
                      flush=True)
            if done[0] == warmup:
                baseline.extend((rss_mib(), sqlite_mib()))
                if trace_heap:
                    heap.append(tracemalloc.take_snapshot())

        async with trio.open_nursery() as nursery:
            for _ in range(puts):
                await limit.acquire()
                nursery.start_soon(one)
        elapsed = time.perf_counter() - start
        end, end_sqlite = rss_mib(), sqlite_mib()
        base, base_sqlite = baseline if baseline else (end, end_sqlite)
        print(f"{puts} puts of {size} bytes in {elapsed:.1f}s ({puts / elapsed:.1f} puts/s, "
              f"{failed[0]} failed), {in_flight} in flight, {vaults} vaults")
        print(f"growth after warm-up ({warmup} puts): {end - base:+.1f} MiB over "
              f"{puts - warmup} puts (rss {base:.1f} -> {end:.1f} MiB; of which sqlite "
              f"{end_sqlite - base_sqlite:+.1f} MiB, {base_sqlite:.1f} -> {end_sqlite:.1f})",
              flush=True)
        if heap:
            grown = tracemalloc.take_snapshot().compare_to(heap[0], "lineno")
            print("heap growth since warm-up, top sites:")
            for stat in grown[:15]:
                print(f"  {stat}")
        if idle > 0:
            await trio.sleep(idle)
            print(_line(done[0], time.perf_counter() - start, table_sizes(net.vaults)))
            print(f"after {idle:g}s idle: rss {rss_mib():.1f} MiB, sqlite {sqlite_mib():.1f} MiB",
                  flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the memory benchmark from the command line; returns the process exit status."""
    parser = Parser(prog="vaultnet bench memory", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vaults", type=int, default=16)
    parser.add_argument("--puts", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per chunk")
    parser.add_argument("--warmup", type=int, default=200,
                        help="puts before the baseline is taken")
    parser.add_argument("--in-flight", type=int, default=4, help="puts outstanding at once")
    parser.add_argument("--every", type=int, default=100, help="print a line every N puts")
    parser.add_argument("--idle", type=float, default=40.0,
                        help="seconds to wait after the puts before the last line")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="print the allocation sites that grew after warm-up")
    args = parser.parse_args(argv)
    if (args.vaults < 5 or args.size < 1 or args.in_flight < 1 or args.every < 1
            or not 0 <= args.warmup < args.puts or args.idle < 0):
        parser.error("need --vaults >= 5, --size/--in-flight/--every >= 1, "
                     "0 <= --warmup < --puts, --idle >= 0")
    if args.tracemalloc:
        tracemalloc.start()
    trio.run(run, args.vaults, args.puts, args.size, args.warmup, args.in_flight, args.every,
             args.idle, args.tracemalloc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
