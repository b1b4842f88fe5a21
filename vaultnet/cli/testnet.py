"""`vaultnet testnet`: a headless testnet in this process, until Ctrl-C / SIGTERM or --duration.

Output (stdout, one flushed line each, meant for people and for scripts):

    starting 4 vaults on tcp (seed random)
    bootstrap: 127.0.0.1:40123
    address file: /run/user/1000/vaultnet/testnet.json
    control: 127.0.0.1:40200 (vaultnet ctl)
    ready: 4 vaults up in 0.1s
    t=2.0s vaults=4 connections=12 msgs/s=0.0 events/s=3.5 events=40 dropped=0   (repeated)
    stopped after 10.0s (duration reached): 60 events, 0 messages, 0 dropped
    trace: 60 events, sha256 <hex> -> FILE                                   (with --record)

The first Ctrl-C / SIGTERM stops the network cleanly (exit 0); a second one during the
shutdown exits at once (exit 1). If stdout goes away (`| head`), the testnet stops as if
signalled. Simulator clock: `--transport sim` runs under trio's MockClock with rate 1.0, so
virtual time follows the wall clock and the run can be watched; `--fast` uses autojump instead
(as fast as the CPU allows), which together with `--seed` reproduces the trace digest. While it
runs, the address file (`vaultnet.cli.addresses`) tells other commands where it is, and the
control port serves `vaultnet ctl` and `vaultnet tui --attach`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import trio

from vaultnet.cli.addresses import (
    ADDRESS_FILE,
    ADDRESS_FORMAT,
    address_file,
    claim_address_file,
    remove_address_file,
    write_address_file,
)
from vaultnet.cli.arguments import (
    VAULTS_PER_PROCESS,
    Subparsers,
    add_network_flags,
    byte_size,
    check_data_dir,
    check_record_path,
    default_processes,
    host_address,
    network_key_file,
    positive_seconds,
    process_count,
    vault_address,
)
from vaultnet.cli.errors import CommandError, UsageError, error_line
from vaultnet.control.auth import TOKEN_FILE, write_token
from vaultnet.control.controller import Controller
from vaultnet.control.listener import DESCRIPTORS, serve
from vaultnet.filemodes import open_private, private_dir
from vaultnet.runtime.events import TraceRecorder
from vaultnet.runtime.testnet import DEFAULT_CAPACITY, DEFAULT_HOST, Testnet, TooFewDescriptors
from vaultnet.transport.clock import virtual_clock


def add_testnet_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet testnet` and its flags."""
    parser = subparsers.add_parser(
        "testnet",
        help="run a headless testnet until Ctrl-C / SIGTERM or --duration",
        description=(
            "Run N vaults in this process and print a one-line summary every few seconds. "
            "The first line after start-up is 'bootstrap: ADDRESS'; the address file "
            f"{ADDRESS_FILE} in the data directory records it for other vaultnet commands. "
            "With --transport sim the simulator's virtual clock follows the wall clock "
            "(trio MockClock, rate 1.0) so you can watch it; --fast lets virtual time jump "
            "ahead instead, which with --seed makes the event trace reproducible."),
    )
    add_network_flags(parser, default_vaults=16)
    parser.add_argument("--capacity", type=byte_size, default=None, metavar="BYTES",
                        help="storage capacity of each vault (bytes; K/M/G suffixes allowed)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="keep vault data and the address file here (default: vault data "
                             "in a temporary directory, address file in $XDG_RUNTIME_DIR/"
                             "vaultnet or ~/.cache/vaultnet/testnet)")
    parser.add_argument("--duration", type=positive_seconds, default=None, metavar="SECONDS",
                        help="stop after the network has run this many seconds, counted from "
                             "when it is up (default: until Ctrl-C / SIGTERM)")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="write every event to FILE (msgpack records, read with "
                             "vaultnet.runtime.events.read_trace); the digest is printed at "
                             "the end")
    parser.add_argument("--summary-interval", type=positive_seconds, default=2.0,
                        metavar="SECONDS", help="seconds between summary lines (default 2)")
    parser.add_argument("--fast", action="store_true",
                        help="sim only: run virtual time as fast as possible (MockClock "
                             "autojump) instead of in step with the wall clock")
    parser.add_argument("--network-key", type=network_key_file, default=None, metavar="FILE",
                        help="admit only vaults holding the 32-byte key in FILE (default: the "
                             "data directory's network.key, created on first use)")
    parser.add_argument("--host", type=host_address, default=DEFAULT_HOST, metavar="ADDR",
                        help="IP address the vaults and the control port listen on and "
                             f"advertise (default {DEFAULT_HOST})")
    parser.add_argument("--processes", type=process_count, default=None, metavar="P",
                        help="run the vaults in P processes: this one and P-1 workers, each "
                             "with its own event loop, talking TCP like any vaults (default: "
                             f"one per {VAULTS_PER_PROCESS} vaults, at most one per core)")
    parser.add_argument("--join", type=vault_address, default=None, metavar="ADDR",
                        help="join the running testnet that has a vault at ADDR (its "
                             "'bootstrap:' line), on this host or another, instead of starting "
                             "one; needs that testnet's --network-key")
    return parser


class DescriptorShortage(CommandError):
    """The testnet does not fit the process's file-descriptor limit (exit 2, one line naming
    what it needs and what is allowed): nothing was started."""

    exit_code = 2


@dataclass
class _Stats:
    """Counts taken from the event stream (a synchronous sink: never drops)."""

    events: int = 0
    received: int = 0
    dropped: int = 0

    def __call__(self, event: Any) -> None:
        """Count one event."""
        self.events += 1
        kind = event.kind
        if kind == "received":
            self.received += 1
        elif kind == "dropped":
            self.dropped += 1


@dataclass
class _Run:
    """One run's output and how it stops (first signal, --duration, stdout closed)."""

    out: TextIO
    stop_reason: str = ""
    stdout_broken: bool = False
    up_at: float | None = None  # trio time when the network was up (bootstrap line printed)
    stopped_at: float | None = None  # trio time when serving ended (shutdown not included)
    scope: trio.CancelScope | None = None

    def say(self, line: str) -> None:
        """Print one flushed line; a closed stdout stops the run instead of failing it."""
        if self.stdout_broken:
            return
        try:
            print(line, file=self.out, flush=True)
        except (BrokenPipeError, ValueError):
            # Whoever read our output went away (`vaultnet testnet | head`): stop like SIGPIPE
            # would, but cleanly, so the address file is removed.
            self.stdout_broken = True
            with contextlib.suppress(OSError, ValueError):  # no "Exception ignored" at exit
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())
            self.stop("stdout closed")

    def stop(self, reason: str) -> None:
        """Stop the run (the first reason is the one reported), noting when serving ended."""
        if not self.stop_reason:
            self.stop_reason = reason
            if self.up_at is not None and self.stopped_at is None:
                # now, before cancelling thousands of tasks takes its (measurable) time
                with contextlib.suppress(RuntimeError):  # RuntimeError: outside trio.run
                    self.stopped_at = trio.current_time()
        if self.scope is not None:
            self.scope.cancel()


def cmd_testnet(args: argparse.Namespace) -> int:
    """Run the testnet until stopped; the address file exists exactly while it serves."""
    if args.fast and args.transport != "sim":
        raise UsageError("--fast only applies to --transport sim")
    if args.join is not None and args.transport != "tcp":
        raise UsageError("--join only applies to --transport tcp")
    args.processes = default_processes(args.vaults, args.processes)
    if args.processes > 1 and args.transport != "tcp":
        raise UsageError("--processes only applies to --transport tcp")
    if args.join is not None and args.network_key is None:
        raise UsageError("--join needs --network-key FILE, the key of the testnet it joins")
    check_data_dir(args.data_dir)
    if args.data_dir is not None:
        private_dir(args.data_dir)
    if args.record is not None:
        check_record_path(args.record)
    addr_path = address_file(args.data_dir)
    claim_address_file(addr_path)

    run = _Run(out=sys.stdout)
    clock = None
    if args.transport == "sim":
        clock = virtual_clock(None if args.fast else 1.0)
    record_file: BinaryIO | None = None
    try:
        if args.record is not None:
            record_file = os.fdopen(open_private(args.record, os.O_WRONLY | os.O_TRUNC), "wb")
        recorder = trio.run(_testnet_main, args, run, addr_path, record_file, clock=clock)
    except TooFewDescriptors as exc:
        raise DescriptorShortage(f"{exc}: use fewer --vaults, more --processes or a higher "
                                 "limit") from None
    finally:
        remove_address_file(addr_path)
        if record_file is not None:
            record_file.close()
    if recorder is not None:
        run.say(f"trace: {recorder.count} events, sha256 {recorder.digest} -> {args.record}")
    return 0


async def _testnet_main(args: argparse.Namespace, run: _Run, addr_path: Path,
                        record_file: BinaryIO | None) -> TraceRecorder | None:
    net = Testnet(vaults=args.vaults, transport=args.transport, seed=args.seed,
                  data_dir=args.data_dir, network_key=args.network_key,
                  reserved_descriptors=DESCRIPTORS, host=args.host,
                  join=[args.join] if args.join is not None else [], processes=args.processes,
                  capacity=args.capacity or DEFAULT_CAPACITY)
    stats = _Stats()
    net.bus.add_sink(stats)
    recorder = None
    if record_file is not None:
        recorder = TraceRecorder(record_file)
        net.bus.add_sink(recorder)

    run.scope = trio.CancelScope()
    start = trio.current_time()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, signals, run, addr_path)
            seed = "random" if args.seed is None else args.seed
            joining = f", joining {args.join}" if args.join is not None else ""
            processes = f" in {args.processes} processes" if args.processes > 1 else ""
            run.say(f"starting {args.vaults} vaults on {args.transport}{processes} "
                    f"(seed {seed}){joining}")
            with run.scope:
                async with net:
                    run.up_at = trio.current_time()
                    await _serve(net, args, run, addr_path, stats, start)
            nursery.cancel_scope.cancel()
    reason = run.stop_reason or "cancelled"
    if run.up_at is None or run.stopped_at is None:
        when = f"during start-up, after {trio.current_time() - start:.1f}s"
    else:
        when = f"after {run.stopped_at - run.up_at:.1f}s"
    run.say(f"stopped {when} ({reason}): {stats.events} events, {stats.received} messages, "
            f"{stats.dropped} dropped")
    return recorder


async def _serve(net: Testnet, args: argparse.Namespace, run: _Run, addr_path: Path,
                 stats: _Stats, start: float) -> None:
    """Serve `vaultnet ctl` requests and print summaries until stopped."""
    record = {
        "format": ADDRESS_FORMAT,
        "bootstrap": net.bootstrap_addresses(),
        "pid": os.getpid(),
        "transport": args.transport,
        "vaults": args.vaults,
        "seed": args.seed,
        "data_dir": str(args.data_dir.resolve()) if args.data_dir is not None else None,
        "started": time.time(),
    }
    async with trio.open_nursery() as control_nursery:
        token = write_token(addr_path.parent)
        record["control"] = await control_nursery.start(
            serve, Controller(net, token), args.host)
        try:
            await _report_until_stopped(net, args, run, addr_path, record, stats, start)
        finally:
            control_nursery.cancel_scope.cancel()
            (addr_path.parent / TOKEN_FILE).unlink(missing_ok=True)


async def _report_until_stopped(net: Testnet, args: argparse.Namespace, run: _Run,
                                addr_path: Path, record: dict[str, Any], stats: _Stats,
                                start: float) -> None:
    assert run.up_at is not None
    up = run.up_at
    addresses = record["bootstrap"]
    try:
        write_address_file(addr_path, record)
        run.say(f"bootstrap: {addresses[0]}")
        run.say(f"address file: {addr_path}")
        run.say(f"control: {record['control']} (vaultnet ctl)")
        run.say(f"ready: {len(net.vaults) + net.workers.live} vaults up in {up - start:.1f}s")
        # --duration and the summary clock `t=` count from here, not from the start-up.
        deadline = up + args.duration if args.duration is not None else float("inf")
        last_time, last_received, last_events = up, stats.received, stats.events
        interval, tick = args.summary_interval, 0
        while True:
            now = trio.current_time()
            if now >= deadline:
                run.stop("duration reached")
                return
            # Summaries fall on the interval's grid from `up`: summed from `now`, 20 s of 5 s
            # summaries fell a rounding error short of the deadline and printed a fifth.
            tick += 1
            if up + tick * interval <= now:  # late (a loaded machine): skip those past
                tick = math.floor((now - up) / interval) + 1
            await trio.sleep_until(min(up + tick * interval, deadline))
            now = trio.current_time()
            span = max(now - last_time, 1e-9)
            rate = ((stats.received - last_received) / span, (stats.events - last_events) / span)
            run.say(_summary_line(now - up, net, stats, rate))
            last_time, last_received, last_events = now, stats.received, stats.events
    finally:
        if run.stopped_at is None:
            run.stopped_at = trio.current_time()
        remove_address_file(addr_path)


def _summary_line(elapsed: float, net: Testnet, stats: _Stats, rate: tuple[float, float]) -> str:
    """One summary line. `t=` is seconds since the network was up (virtual seconds on the
    simulator); connections counts both ends of every link; msgs/s is persona messages delivered
    to vaults (`received` events); events/s is everything on the event stream; events and
    dropped (messages a vault had to drop) are totals since start-up. With workers, `vaults=`
    counts theirs too, connections only this process's, and `worker_dropped=` the events the
    workers could not send us."""
    pool = net.workers
    vaults = sum(1 for v in net.vaults if v.running) + pool.live
    conns = sum(v.connections() for v in net.vaults)
    line = (f"t={elapsed:.1f}s vaults={vaults} connections={conns} msgs/s={rate[0]:.1f} "
            f"events/s={rate[1]:.1f} events={stats.events} dropped={stats.dropped}")
    return f"{line} worker_dropped={pool.dropped}" if pool.workers else line


async def _watch_signals(signals: Any, run: _Run, addr_path: Path) -> None:
    count = 0
    async for signum in signals:
        count += 1
        if count == 1:
            run.stop(f"{signal.Signals(signum).name}")
            continue
        # A second signal while shutting down: give up waiting.
        remove_address_file(addr_path)
        error_line(f"{signal.Signals(signum).name} again, exiting without a clean shutdown")
        os._exit(1)
