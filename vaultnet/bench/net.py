"""Network-core benchmark: transport frames/s, boot time, memory per vault.

`vaultnet bench net [--frames N] [--skip-100] [--boot N [--processes P]]`. Figures are
printed, never asserted: this machine is noisy, so each transport figure is the median of
several rounds in one run.

- channel: the secure channel's CPU cost per frame for that frame, sealing and opening (one
  ChaCha20-Poly1305 pass each way), and a whole handshake (both sides, in memory).
- frames/s: a typical message frame (about 300 bytes of msgpack) pushed through `Connection.send`
  and received at the far end, over 1 connection and over 100 concurrent connections to one
  listener; on TCP also the naive one-write-per-frame writer, for the ratio the batching writer
  buys; on sim with the default 2-20 ms link latency in real time.
- boot: wall time for `Testnet(vaults=N)` to converge (every proximity set exact); on sim also
  the simulated seconds it took (run under trio's MockClock with autojump).
- memory: resident set growth while booting 32 TCP vaults, divided by 32 (measured first, before
  other rounds have grown the heap), and the Python heap those vaults hold (tracemalloc).

`vaultnet bench net --boot N [--processes P]` does only one thing: boots N TCP vaults over P
processes (default 2) and prints the wall time until every proximity set is exact and the RSS
of every process (launcher and workers), summed, per vault.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial

import nacl.public
import trio

from vaultnet import wire
from vaultnet.bench.memory import rss_kib
from vaultnet.cli.errors import Parser
from vaultnet.identity import Identity
from vaultnet.runtime.testnet import Testnet
from vaultnet.runtime.worker_pool import wrong_proximity
from vaultnet.transport.base import Connection, ConnectionClosed, Endpoint
from vaultnet.transport.channel import Handshake
from vaultnet.transport.clock import virtual_clock
from vaultnet.transport.sim import SimNetwork
from vaultnet.transport.tcp import TcpEndpoint

ROUNDS = 5
FRAME = {"t": "msg", "src": os.urandom(64), "dst": os.urandom(64), "action": "put",
         "id": os.urandom(32), "trace": os.urandom(16), "body": {"copy": os.urandom(64)}}


async def _pump(make_endpoint: Callable[[Identity], Endpoint], connections: int, frames: int,
                naive: bool) -> float:
    """Frames per second from `connections` senders to one listener, each sending its share."""
    per_conn = frames // connections
    received = [0]
    all_in = trio.Event()

    async def serve(conn: Connection) -> None:
        try:
            while True:
                await conn.receive()
                received[0] += 1
                if received[0] == per_conn * connections:
                    all_in.set()
        except ConnectionClosed:
            pass

    async def send_all(conn: Connection) -> None:
        for _ in range(per_conn):
            if naive:
                await conn.stream.send_bodies([conn.protector.seal(wire.pack(FRAME))])
            else:
                conn.send(FRAME)
                if conn._queued_bytes > 1 << 20:  # let the writer drain, as a vault would
                    await trio.lowlevel.checkpoint()
        await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        server = make_endpoint(Identity.generate())
        address = await server.listen(nursery, serve)
        conns = [await make_endpoint(Identity.generate()).connect(address)
                 for _ in range(connections)]
        for conn in conns:
            nursery.start_soon(conn.run_writer)
        start = time.perf_counter()
        async with trio.open_nursery() as senders:
            for conn in conns:
                senders.start_soon(send_all, conn)
        await all_in.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return per_conn * connections / elapsed


def _channel_costs(frames: int) -> tuple[float, float, float]:
    """(seal µs, open µs, handshake µs): one frame through a fresh channel's protectors, and a
    whole handshake between two in-memory sides, medians of several rounds."""
    network_key = os.urandom(32)

    def pair() -> tuple[Handshake, Handshake]:
        return (Handshake(Identity.generate(), "vault", "a", True,
                          nacl.public.PrivateKey.generate(), network_key),
                Handshake(Identity.generate(), "vault", "b", False,
                          nacl.public.PrivateKey.generate(), network_key))

    def run_handshake(a: Handshake, b: Handshake) -> None:
        response = b.receive(a.start())
        assert response is not None
        finish = a.receive(response)
        assert finish is not None
        b.receive(finish)

    rounds = max(1, frames // 10)
    seal, open_, shake = [], [], []
    for _ in range(ROUNDS):
        a, b = pair()
        start = time.perf_counter()
        run_handshake(a, b)
        shake.append(time.perf_counter() - start)
        sender, receiver = a.established()[1], b.established()[1]
        body = wire.pack(FRAME)
        start = time.perf_counter()
        sealed = [sender.seal(body) for _ in range(rounds)]
        seal.append((time.perf_counter() - start) / rounds)
        start = time.perf_counter()
        for item in sealed:
            receiver.open(item)
        open_.append((time.perf_counter() - start) / rounds)
    return (statistics.median(seal) * 1e6, statistics.median(open_) * 1e6,
            statistics.median(shake) * 1e6)


def _median_rate(run: Callable[[], Awaitable[float]]) -> float:
    return statistics.median(trio.run(run) for _ in range(ROUNDS))


async def _boot(vaults: int, transport: str) -> tuple[float, float]:
    """(wall seconds, trio-clock seconds) until `vaults` vaults have converged."""
    wall, clock = time.perf_counter(), trio.current_time()
    async with Testnet(vaults=vaults, transport=transport, seed=1 if transport == "sim" else None):
        return time.perf_counter() - wall, trio.current_time() - clock


BOOT_TIMEOUT = 900.0
"""Seconds `--boot` waits for every vault of every process to see its true proximity set."""


async def _boot_over_processes(vaults: int, processes: int) -> tuple[float, float]:
    """(wall seconds until every vault of every process has its true proximity set, RSS in
    KiB per vault) for `vaults` TCP vaults over `processes` processes: the launcher's RSS and
    every worker's, summed, over the vaults."""
    wall = time.perf_counter()
    async with Testnet(vaults=vaults, transport="tcp", processes=processes) as net:
        with trio.fail_after(BOOT_TIMEOUT):
            while wrong_proximity(await net.vault_rows(), net.params.proximity_size):
                await trio.sleep(0.2)
        wall = time.perf_counter() - wall
        rss = rss_kib() + sum(rss_kib(w.process.pid) for w in net.workers.workers)
    return wall, rss / vaults


async def _memory_per_vault(vaults: int) -> tuple[float, float]:
    """(RSS growth, traced Python heap) in KiB per vault, with `vaults` TCP vaults running."""
    before = rss_kib()
    async with Testnet(vaults=vaults, transport="tcp"):
        rss = (rss_kib() - before) / vaults
    tracemalloc.start()
    try:
        async with Testnet(vaults=vaults, transport="tcp"):
            heap = tracemalloc.get_traced_memory()[0] / 1024 / vaults
    finally:
        tracemalloc.stop()
    return rss, heap


def main(argv: list[str] | None = None) -> int:
    """Run the transport benchmark from the command line; returns the process exit status."""
    parser = Parser(prog="vaultnet bench net", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50_000, help="frames per round")
    parser.add_argument("--skip-100", action="store_true", help="skip the 100-vault boots")
    parser.add_argument("--boot", type=int, metavar="N",
                        help="only boot N tcp vaults (over --processes) and report the wall "
                             "time to converge and the RSS per vault")
    parser.add_argument("--processes", type=int, default=2, metavar="P",
                        help="processes the --boot vaults run in (default 2)")
    args = parser.parse_args(argv)
    if args.boot is not None:
        wall, per_vault = trio.run(_boot_over_processes, args.boot, args.processes)
        print(f"boot {args.boot} tcp vaults over {args.processes} processes: converged in "
              f"{wall:.1f} s wall, RSS {per_vault:,.0f} KiB per vault (all processes)")
        return 0

    network_key = os.urandom(32)

    def tcp(identity: Identity) -> Endpoint:
        return TcpEndpoint(identity, network_key=network_key)

    sim = SimNetwork(0)

    async def on_sim(connections: int) -> float:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sim.run)
            rate = await _pump(lambda i: sim.endpoint(i, network_key=network_key), connections,
                               args.frames, False)
            nursery.cancel_scope.cancel()
        return rate

    rss, heap = trio.run(_memory_per_vault, 32)
    rows: list[tuple[str, str]] = [
        ("memory per vault, RSS growth (32 tcp vaults)", f"{rss:,.0f} KiB"),
        ("memory per vault, Python heap (32 tcp vaults)", f"{heap:,.0f} KiB")]
    seal, open_, shake = _channel_costs(args.frames)
    rows.append((f"channel seal + open per {len(wire.pack(FRAME))}-byte frame",
                 f"{seal:.1f} + {open_:.1f} us"))
    rows.append(("channel handshake (both sides, in memory)", f"{shake:,.0f} us"))
    for connections in (1, 100):
        batched = _median_rate(partial(_pump, tcp, connections, args.frames, False))
        naive = _median_rate(partial(_pump, tcp, connections, args.frames // 5, True))
        rows.append((f"tcp frames/s, {connections} conn (batched writer)", f"{batched:,.0f}"))
        rows.append((f"tcp frames/s, {connections} conn (one write per frame)", f"{naive:,.0f}"))
        rows.append((f"  batched / naive, {connections} conn", f"{batched / naive:.1f}x"))
        rows.append((f"sim frames/s, {connections} conn",
                     f"{_median_rate(partial(on_sim, connections)):,.0f}"))
    for vaults in (32,) if args.skip_100 else (32, 100):
        wall, _ = trio.run(_boot, vaults, "tcp")
        rows.append((f"boot {vaults} tcp vaults (wall)", f"{wall:.1f} s"))
        wall, simulated = trio.run(_boot, vaults, "sim",
                                   clock=virtual_clock())
        rows.append((f"boot {vaults} sim vaults (wall / simulated)",
                     f"{wall:.1f} s / {simulated:.1f} s"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
