"""`vaultnet ...` commands.

Layout (so more subcommands can be added without touching the rest): every command `NAME` is
two module-level functions,

    add_NAME_parser(subparsers) -> argparse.ArgumentParser   # declares the flags
    cmd_NAME(args) -> int                                    # runs it, returns the exit code

plus its entry in `COMMANDS` below (order = order in `--help`; a `-` in a name becomes `_` in
the function names). A command may live in a module of its own (`COMMAND_MODULES`: `version`
in cli_versions.py, `msg` in cli_messages.py, `sim` in cli_sim.py); the first two reach the
network through `run_client`.

Exit codes and error style (the same for every command):

- 0   success, including a testnet stopped by Ctrl-C / SIGTERM or by `--duration`;
- 1   a run-time failure (`vaultnet.TestnetError`, `OSError`, a missing optional component):
      one line `vaultnet: error: ...` on stderr, no traceback;
- 2   a usage error (unknown flag, bad value): one line `vaultnet: error: ...` on stderr, no
      usage block (`vaultnet CMD --help` shows it), no traceback;
- 130 interrupted by Ctrl-C outside a running testnet.

The address file. A running `vaultnet testnet` writes `testnet.json` into its data directory so
that later commands (`vaultnet put/get/ctl/version/msg`, ...) can find it; see `default_data_dir`,
`address_file` and `read_address_file`. Its JSON fields: `bootstrap` (list of "host:port";
"sim:N" for the simulator, which is only reachable from inside its own process), `pid`,
`transport`, `vaults`, `seed`, `data_dir`, `started` (unix time) and `format` (=1). It is removed
on exit. A second testnet refuses to start on a directory whose address file names a live
process; a file left by a dead process (SIGKILL) is stale and is replaced.

`vaultnet testnet` output (stdout, one flushed line each, meant for people and for scripts):

    starting 4 vaults on tcp (seed random)
    bootstrap: 127.0.0.1:40123
    address file: /run/user/1000/vaultnet/testnet.json
    ready: 4 vaults up in 0.1s
    t=2.0s vaults=4 connections=12 msgs/s=0.0 events/s=3.5 events=40 dropped=0   (repeated)
    stopped after 10.0s (duration reached): 60 events, 0 messages, 0 dropped
    trace: 60 events, sha256 <hex> -> FILE                                   (with --record)

The first Ctrl-C / SIGTERM stops the network cleanly (exit 0); a second one during the
shutdown exits at once (exit 1). If stdout goes away (`| head`), the testnet stops as if
signalled. Simulator clock: `--transport sim` runs under trio's MockClock with rate 1.0, so
virtual time follows the wall clock and the run can be watched; `--fast` uses autojump instead
(as fast as the CPU allows), which together with `--seed` reproduces the trace digest.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO, TypeAlias

import trio
import trio.testing

from vaultnet.client.chunk_input import ChunkInputError, parse_size, read_chunk_file
from vaultnet.control import server as control
from vaultnet.control.remote import RemoteNetwork
from vaultnet.filemodes import open_private, private_dir, write_private
from vaultnet.identity import IdentityError
from vaultnet.runtime.allocator import limit_fragmentation
from vaultnet.runtime.events import TraceRecorder
from vaultnet.runtime.faults import Fault
from vaultnet.runtime.testnet import TRANSPORTS, Testnet, TestnetError
from vaultnet.transport.channel import NETWORK_KEY_SIZE

COMMANDS: tuple[str, ...] = ("testnet", "ctl", "put", "get", "delete", "version", "msg", "tui",
                             "bench", "sim")
"""Subcommands, in `--help` order; each needs `add_<name>_parser` and `cmd_<name>`, below or
in the module COMMAND_MODULES names for it."""
COMMAND_MODULES = {"version": "vaultnet.cli.versions", "msg": "vaultnet.cli.messages",
                   "sim": "vaultnet.cli.sim"}
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What `add_subparsers` returns, which each `add_<name>_parser` is given."""

PROG = "vaultnet"
MAX_VAULTS = 500
ADDRESS_FILE = "testnet.json"
ADDRESS_FORMAT = 1
MAX_PID = 2**31 - 1
"""Largest process id (pid_t is a signed 32-bit integer): a bigger `pid` in an address file
names no process."""


# -- errors and the parser ------------------------------------------------------------------------


class UsageError(Exception):
    """A bad flag value found after parsing (exit 2, one line)."""


class CommandError(Exception):
    """A run-time failure a command reports as one line (exit `exit_code`, 1)."""

    exit_code = 1


class AttachError(CommandError):
    """`vaultnet tui --attach` found no testnet it can steer there (exit 2)."""

    exit_code = 2


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exactly one line on stderr: `vaultnet: error: ...`.

    The usage block is left out on purpose (it pushed the actual error off small terminals and
    made the output awkward to test); the line ends with where to find the usage instead.
    Subparsers inherit this class (argparse creates them with the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        _error_line(message + hint)
        raise SystemExit(2)


def _error_line(message: str) -> None:
    message = " ".join(str(message).split())  # one line, whatever the exception text held
    with contextlib.suppress(OSError, ValueError):
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vaultnet")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Run and inspect a MaidSafe-style vault network.",
        epilog="Run 'vaultnet COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        ident = name.replace("-", "_")
        where = (vars(importlib.import_module(COMMAND_MODULES[name])) if name in COMMAND_MODULES
                 else globals())
        sub = where[f"add_{ident}_parser"](subparsers)
        sub.set_defaults(handler=where[f"cmd_{ident}"])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vaultnet` console script and of `python -m vaultnet`."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a usage error already printed (2)
        return exc.code if isinstance(exc.code, int) else 0
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        _error_line(f"name a command: {', '.join(COMMANDS)} (see '{PROG} --help')")
        return 2
    limit_fragmentation()
    try:
        return handler(args)
    except UsageError as exc:
        _error_line(f"{exc} (see '{PROG} {args.command} --help')")
        return 2
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # classified below; re-raised unless ours
        code = _failure_code(exc)
        if code is None:
            raise
        return code


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _failure_code(exc: BaseException) -> int | None:
    """Exit code for an expected failure (reported as one line), None for a real bug."""
    leaves = list(_leaves(exc))
    if any(isinstance(e, KeyboardInterrupt) for e in leaves):
        return 130
    expected = (TestnetError, OSError, CommandError, control.ControlError, IdentityError)
    if not leaves or not all(isinstance(e, expected) for e in leaves):
        return None
    first = leaves[0]
    _error_line(_describe(first))
    return first.exit_code if isinstance(first, CommandError) else 1


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


# -- shared argument types ------------------------------------------------------------------------


def bounded_count(limit: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `limit`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}, got {value}")
        return value
    return parse


vault_count = bounded_count(MAX_VAULTS)
"""A vault count on the command line (1 to MAX_VAULTS)."""


def seed_value(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def byte_size(text: str) -> int:
    """Bytes (argparse type): a whole number, optionally with K/M/G/T (`64M`, `1GiB`)."""
    try:
        return parse_size(text)
    except ChunkInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_network_flags(parser: argparse.ArgumentParser, default_vaults: int) -> None:
    parser.add_argument("--vaults", type=vault_count, default=default_vaults, metavar="N",
                        help=f"number of vaults, 1..{MAX_VAULTS} (default {default_vaults})")
    parser.add_argument("--transport", choices=TRANSPORTS, default="tcp",
                        help="tcp: real sockets on 127.0.0.1 (default); sim: in-memory "
                             "simulated network with a virtual clock")
    parser.add_argument("--seed", type=seed_value, default=None, metavar="S",
                        help="seed for vault identities and the simulator (default: random)")


def _check_data_dir(path: Path | None) -> None:
    if path is not None and path.exists() and not path.is_dir():
        raise UsageError(f"--data-dir {path} exists and is not a directory")


# -- the address file -----------------------------------------------------------------------------


def default_data_dir() -> Path:
    """Where a testnet started without `--data-dir` puts its address file (its vault data then
    lives in a temporary directory removed on exit):

    `$XDG_RUNTIME_DIR/vaultnet` when XDG_RUNTIME_DIR names a directory (per-user, cleared at
    logout: the right home for a file that describes running processes), otherwise
    `$XDG_CACHE_HOME/vaultnet/testnet` (XDG_CACHE_HOME defaults to `~/.cache`).
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "vaultnet"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "vaultnet" / "testnet"


def address_file(data_dir: str | Path | None = None) -> Path:
    return Path(data_dir if data_dir is not None else default_data_dir()) / ADDRESS_FILE


def _pid_alive(pid: int) -> bool:
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with an address record's fields, or None."""
    def shown(key: str) -> str:
        return f"field {key!r} is {json.dumps(record[key])[:40]}"

    for key in ("format", "pid", "bootstrap", "transport"):
        if key not in record:
            return f"field {key!r} is missing"
    if record["format"] != ADDRESS_FORMAT:
        return f"{shown('format')}, expected {ADDRESS_FORMAT}"
    pid = record["pid"]
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return f"{shown('pid')}, not a process id"
    bootstrap = record["bootstrap"]
    if (not isinstance(bootstrap, list) or not bootstrap
            or not all(isinstance(a, str) for a in bootstrap)):
        return f"{shown('bootstrap')}, not a list of addresses"
    if record["transport"] not in TRANSPORTS:
        return f"{shown('transport')}, not one of {', '.join(TRANSPORTS)}"
    if not isinstance(record.get("control", ""), str):
        return f"{shown('control')}, not an address"
    return None


def load_address_file(path: Path) -> dict[str, Any]:
    """The record in the address file `path`, checked field by field; CommandError (one line
    naming the file and what is wrong) when it is missing, unreadable or malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CommandError(f"no running testnet found ({path} does not exist); start one "
                           "with 'vaultnet testnet' or pass its --data-dir") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read address file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"address file {path} is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise CommandError(f"address file {path} holds a JSON {type(record).__name__}, not a "
                           "testnet record")
    problem = _record_problem(record)
    if problem is not None:
        raise CommandError(f"address file {path}: {problem}")
    return record


def read_address_file(data_dir: str | Path | None = None) -> dict[str, Any]:
    """The address record of the testnet running on `data_dir` (default: `default_data_dir()`).

    Raises CommandError (one line for the user) when there is none, it is unreadable or
    malformed, or the process that wrote it is gone. For `vaultnet put/get/ctl` and friends.
    """
    path = address_file(data_dir)
    record = load_address_file(path)
    if not _pid_alive(record["pid"]):
        raise CommandError(f"the testnet in {path} is no longer running (pid {record['pid']})")
    return record


def _claim_address_file(path: Path) -> None:
    """Refuse to run over a live testnet's address file; a stale or malformed one is simply
    replaced."""
    try:
        pid = load_address_file(path)["pid"]
    except CommandError:
        return
    if pid != os.getpid() and _pid_alive(pid):
        raise CommandError(f"a testnet is already running here (pid {pid}, {path}); stop it "
                           "or choose another --data-dir")


def _write_address_file(path: Path, record: dict[str, Any]) -> None:
    private_dir(path.parent)
    write_private(path, (json.dumps(record, indent=2) + "\n").encode())


def _remove_address_file(path: Path) -> None:
    """Remove the address file if it is still ours."""
    with contextlib.suppress(CommandError, OSError):
        if load_address_file(path)["pid"] == os.getpid():
            path.unlink()


# -- vaultnet testnet -----------------------------------------------------------------------------


def network_key_file(text: str) -> bytes:
    """The 32-byte network key in file `text` (argparse type: a bad file is a usage error)."""
    try:
        key = Path(text).read_bytes()
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot read network key file {text}: {exc.strerror or exc}") from None
    if len(key) != NETWORK_KEY_SIZE:
        raise argparse.ArgumentTypeError(
            f"network key file {text} holds {len(key)} bytes, not {NETWORK_KEY_SIZE}")
    return key


def add_testnet_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
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
    _add_network_flags(parser, default_vaults=16)
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
    return parser


@dataclass
class _Stats:
    """Counts taken from the event stream (a synchronous sink: never drops)."""

    events: int = 0
    received: int = 0
    dropped: int = 0

    def __call__(self, event: Any) -> None:
        self.events += 1
        kind = event.kind
        if kind == "received":
            self.received += 1
        elif kind == "dropped":
            self.dropped += 1


@dataclass
class _Run:
    out: TextIO
    stop_reason: str = ""
    stdout_broken: bool = False
    up_at: float | None = None  # trio time when the network was up (bootstrap line printed)
    stopped_at: float | None = None  # trio time when serving ended (shutdown not included)
    scope: trio.CancelScope | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def say(self, line: str) -> None:
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
        if not self.stop_reason:
            self.stop_reason = reason
            if self.up_at is not None and self.stopped_at is None:
                # now, before cancelling thousands of tasks takes its (measurable) time
                with contextlib.suppress(RuntimeError):  # RuntimeError: outside trio.run
                    self.stopped_at = trio.current_time()
        if self.scope is not None:
            self.scope.cancel()


def _check_record_path(path: Path) -> None:
    """Fail early (usage error) if FILE cannot be written, without truncating it yet."""
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write --record file {path}: {exc.strerror or exc}") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()


def cmd_testnet(args: argparse.Namespace) -> int:
    if args.fast and args.transport != "sim":
        raise UsageError("--fast only applies to --transport sim")
    _check_data_dir(args.data_dir)
    if args.data_dir is not None:
        private_dir(args.data_dir)
    if args.record is not None:
        _check_record_path(args.record)
    addr_path = address_file(args.data_dir)
    _claim_address_file(addr_path)

    run = _Run(out=sys.stdout)
    clock = None
    if args.transport == "sim":
        clock = (trio.testing.MockClock(autojump_threshold=0) if args.fast
                 else trio.testing.MockClock(rate=1.0))
    record_file: BinaryIO | None = None
    try:
        if args.record is not None:
            record_file = os.fdopen(open_private(args.record, os.O_WRONLY | os.O_TRUNC), "wb")
        recorder = trio.run(_testnet_main, args, run, addr_path, record_file, clock=clock)
    finally:
        _remove_address_file(addr_path)
        if record_file is not None:
            record_file.close()
    if recorder is not None:
        run.say(f"trace: {recorder.count} events, sha256 {recorder.digest} -> {args.record}")
    return 0


async def _testnet_main(args: argparse.Namespace, run: _Run, addr_path: Path,
                        record_file: BinaryIO | None) -> TraceRecorder | None:
    net = Testnet(vaults=args.vaults, transport=args.transport, seed=args.seed,
                  data_dir=args.data_dir, network_key=args.network_key)
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
            run.say(f"starting {args.vaults} vaults on {args.transport} (seed {seed})")
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
        token = control.write_token(addr_path.parent)
        record["control"] = await control_nursery.start(
            control.serve, control.Controller(net, token))
        try:
            await _report_until_stopped(net, args, run, addr_path, record, stats, start)
        finally:
            control_nursery.cancel_scope.cancel()
            (addr_path.parent / control.TOKEN_FILE).unlink(missing_ok=True)


async def _report_until_stopped(net: Testnet, args: argparse.Namespace, run: _Run,
                                addr_path: Path, record: dict[str, Any], stats: _Stats,
                                start: float) -> None:
    assert run.up_at is not None
    up = run.up_at
    addresses = record["bootstrap"]
    try:
        _write_address_file(addr_path, record)
        run.say(f"bootstrap: {addresses[0]}")
        run.say(f"address file: {addr_path}")
        run.say(f"control: {record['control']} (vaultnet ctl)")
        run.say(f"ready: {len(net.vaults)} vaults up in {up - start:.1f}s")
        # --duration and the summary clock `t=` count from here, not from the start-up.
        deadline = up + args.duration if args.duration is not None else float("inf")
        last_time, last_received, last_events = up, stats.received, stats.events
        while True:
            now = trio.current_time()
            if now >= deadline:
                run.stop("duration reached")
                return
            await trio.sleep_until(min(now + args.summary_interval, deadline))
            now = trio.current_time()
            span = max(now - last_time, 1e-9)
            rate = ((stats.received - last_received) / span, (stats.events - last_events) / span)
            run.say(_summary_line(now - up, net, stats, rate))
            last_time, last_received, last_events = now, stats.received, stats.events
    finally:
        if run.stopped_at is None:
            run.stopped_at = trio.current_time()
        _remove_address_file(addr_path)


def _summary_line(elapsed: float, net: Testnet, stats: _Stats, rate: tuple[float, float]) -> str:
    """One summary line. `t=` is seconds since the network was up (virtual seconds on the
    simulator); connections counts both ends of every link; msgs/s is persona messages delivered
    to vaults (`received` events); events/s is everything on the event stream; events and
    dropped (messages a vault had to drop) are totals since start-up."""
    vaults = sum(1 for v in net.vaults if v.running)
    conns = sum(v.connections() for v in net.vaults)
    return (f"t={elapsed:.1f}s vaults={vaults} connections={conns} msgs/s={rate[0]:.1f} "
            f"events/s={rate[1]:.1f} events={stats.events} dropped={stats.dropped}")


async def _watch_signals(signals: Any, run: _Run, addr_path: Path) -> None:
    count = 0
    async for signum in signals:
        count += 1
        if count == 1:
            run.stop(f"{signal.Signals(signum).name}")
            continue
        # A second signal while shutting down: give up waiting.
        _remove_address_file(addr_path)
        _error_line(f"{signal.Signals(signum).name} again, exiting without a clean shutdown")
        os._exit(1)


# -- vaultnet ctl ---------------------------------------------------------------------------------


def add_ctl_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ctl", help="steer a running 'vaultnet testnet': status, add, kill, restart, fault",
        description="Send one command to a running testnet over its loopback control port, "
                    "authenticated with the token in its data directory.")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="the testnet's --data-dir (default: where 'vaultnet testnet' "
                             "writes its address file)")
    commands = parser.add_subparsers(dest="ctl_command", metavar="COMMAND", title="commands",
                                     required=True)
    commands.add_parser("status", help="vaults, connections, messages; one line per vault")
    commands.add_parser("add", help="start one more vault")
    commands.add_parser("kill", help="stop a vault").add_argument(
        "name", metavar="NAME", help="vault name or unique hex prefix")
    commands.add_parser("restart", help="stop (if live) and restart a vault with its data"
                        ).add_argument("name", metavar="NAME", help="vault name or hex prefix")
    fault = commands.add_parser("fault", help="inject a fault into a vault")
    fault.add_argument("name", metavar="NAME", help="vault name or unique hex prefix")
    fault.add_argument("kind", choices=[f.value for f in Fault], metavar="KIND",
                       help=", ".join(f.value for f in Fault) + " (see vaultnet/runtime/faults.py)")
    return parser


def cmd_ctl(args: argparse.Namespace) -> int:
    record = read_address_file(args.data_dir)
    address = record.get("control")
    if not isinstance(address, str):
        raise CommandError("that testnet does not accept control commands (started by an "
                           "older vaultnet?)")
    token = control.read_token(address_file(args.data_dir).parent)
    argv = [a for a in (getattr(args, "name", None), getattr(args, "kind", None)) if a]
    result = trio.run(control.request, address, token, args.ctl_command, argv)
    try:
        lines = _ctl_lines(args.ctl_command, result)
    except (KeyError, TypeError, ValueError):
        raise CommandError(f"malformed answer from the testnet on {address}") from None
    print("\n".join(lines))
    return 0


def _ctl_lines(command: str, result: Any) -> list[str]:
    """What `vaultnet ctl COMMAND` prints for the testnet's `result`."""
    if command == "status":
        rows = [f"{row['name'][:16]}  {row['address']:<21}  peers={row['peers']:<3} "
                f"copies={row['copies']}{'  silent' if row['silent'] else ''}"
                for row in result["vault_list"]]
        return [f"vaults={result['vaults']} connections={result['connections']} "
                f"messages={result['messages']}", *rows]
    if command == "kill":
        return [f"killed {result['name'][:16]}"]
    if command == "fault":
        return [f"{result['fault']}: {result['name'][:16]}"]
    return [f"{'added' if command == 'add' else 'restarted'} {result['name'][:16]} "
            f"at {result['address']}"]


# -- vaultnet put / get / delete ----------------------------------------------------------------


def chunk_name(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex chunk name: {text!r}") from None
    if len(value) != 64:
        raise argparse.ArgumentTypeError(
            f"a chunk name is 128 hex characters, got {len(text)}")
    return value


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", default=None, metavar="ADDRESS",
                        help="a vault's 127.0.0.1:PORT (default: read the address file of the "
                             "running testnet)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="the testnet's --data-dir, where its address file is")


def add_put_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("put", help="store a file on a running testnet",
                                   description="Store FILE as one chunk; prints its name.")
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--unique", action="store_true",
                        help="refuse (exit 1, nothing charged) if the network holds it already")
    add_client_flags(parser)
    return parser


def add_get_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("get", help="fetch a chunk from a running testnet",
                                   description="Fetch chunk NAME (128 hex characters).")
    parser.add_argument("name", type=chunk_name, metavar="NAME")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write the chunk here (default: standard output)")
    add_client_flags(parser)
    return parser


def add_delete_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("delete", help="delete a chunk you stored",
                                   description="Delete chunk NAME (128 hex characters).")
    parser.add_argument("name", type=chunk_name, metavar="NAME")
    add_client_flags(parser)
    return parser


def run_client(args: argparse.Namespace, operation: Callable[[Any], Any],
               identity_dir: str = "client", opener: Callable[..., Any] | None = None) -> Any:
    """Connect a client through the testnet's bootstrap vaults and run `operation` on it.

    The client's key is kept beside the address file, in `identity_dir`: deleting needs the
    MAID account that stored the chunk, and a messaging identity must keep its name. `opener`
    is `open_client` (a MaidNode, the default) or `open_mpid_client`."""
    from vaultnet.client.maid import ClientError, open_client
    from vaultnet.identity import Identity
    from vaultnet.transport.tcp import TcpEndpoint

    opener = opener or open_client

    if args.bootstrap is not None:
        bootstrap = [args.bootstrap]
    else:
        record = read_address_file(args.data_dir)
        if record.get("transport") != "tcp":
            raise CommandError("that testnet runs on the simulator; clients need --transport tcp")
        bootstrap = [str(a) for a in record["bootstrap"]]

    async def session() -> Any:
        identity = Identity.load_or_create(address_file(args.data_dir).parent / identity_dir)
        async with trio.open_nursery() as nursery:
            client = await opener(TcpEndpoint(identity, role="client"), bootstrap, nursery,
                                  identity)
            try:
                return await operation(client)
            finally:
                await client.aclose()
                nursery.cancel_scope.cancel()

    try:
        return trio.run(session)
    except BaseException as exc:
        for leaf in _leaves(exc):
            if isinstance(leaf, ClientError):
                raise CommandError(str(leaf)) from None
        raise


def chunk_from_file(path: Path) -> bytes:
    """FILE's content as one chunk (`read_chunk_file`); CommandError says why it cannot be."""
    try:
        return read_chunk_file(path)
    except ChunkInputError as exc:
        raise CommandError(str(exc)) from None


def cmd_put(args: argparse.Namespace) -> int:
    data = chunk_from_file(args.file)
    name = run_client(args, lambda client: client.put(data, unique=args.unique))
    print(name.hex())
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    data = run_client(args, lambda client: client.get(args.name))
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.output.write_bytes(data)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    held = run_client(args, lambda client: client.delete(args.name))
    print(f"deleted {args.name.hex()[:16]}" if held
          else f"{args.name.hex()[:16]} is not in your account: nothing deleted")
    return 0


# -- vaultnet tui ---------------------------------------------------------------------------------


def add_tui_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tui", help="the dashboard: an embedded testnet you can watch and poke",
        description="Start the Textual dashboard with an embedded testnet.")
    _add_network_flags(parser, default_vaults=16)
    parser.add_argument("--capacity", type=byte_size, default=None, metavar="BYTES",
                        help="storage capacity of each vault (bytes; K/M/G suffixes allowed)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="keep vault data here (default: a temporary directory)")
    parser.add_argument("--record", type=Path, default=None, metavar="FILE",
                        help="write what the dashboard sees (events, samples of the network, "
                             "your operations) to FILE, to replay with --replay")
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="replay a recording (from --record, or 'vaultnet testnet "
                             "--record') with play, pause, step, seek and speed; no network")
    parser.add_argument("--attach", nargs="?", const="", default=None, metavar="DATA_DIR",
                        help="open the dashboard on the 'vaultnet testnet' running on DATA_DIR "
                             "(default: where 'vaultnet testnet' writes its address file) "
                             "through its control port; q leaves it running")
    return parser


def attached_network(data_dir: Path | None) -> RemoteNetwork:
    """The testnet running on `data_dir`, checked to answer its control port with the token
    there; AttachError (one line, exit 2) if there is none to steer."""
    try:
        record = read_address_file(data_dir)
        address = record.get("control")
        if not isinstance(address, str):
            raise CommandError("that testnet does not accept control commands (started by an "
                               "older vaultnet?)")
        directory = address_file(data_dir).parent
        token = control.read_token(directory)
        trio.run(control.request, address, token, "status", [])
    except (CommandError, control.ControlError) as exc:
        raise AttachError(f"cannot attach: {exc}") from None
    return RemoteNetwork(address, token, directory)


def cmd_tui(args: argparse.Namespace) -> int:
    if args.replay is not None and args.record is not None:
        raise UsageError("--replay plays a recording; it cannot also --record")
    if args.attach is not None and (args.replay is not None or args.record is not None):
        raise UsageError("--attach watches a running testnet; it cannot also --replay or "
                         "--record")
    if args.record is not None:
        _check_record_path(args.record)
    _check_data_dir(args.data_dir)
    try:  # lazy: keeps Textual out of the other commands, and the library off the dashboard
        from tui.app import main as tui_main
        from tui.errors import DashboardError
    except ImportError as exc:
        raise CommandError(f"the dashboard is not available: {exc}") from None
    attach = (attached_network(Path(args.attach) if args.attach else None)
              if args.attach is not None else None)
    try:
        code = tui_main(vaults=args.vaults, transport=args.transport, seed=args.seed,
                        capacity=args.capacity, data_dir=args.data_dir, record=args.record,
                        replay=args.replay, attach=attach)
    except DashboardError as exc:
        raise CommandError(str(exc)) from None
    return int(code or 0)


# -- vaultnet bench -------------------------------------------------------------------------------


def add_bench_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench", help="benchmarks (e.g. 'vaultnet bench net')",
        description="Run a benchmark suite (vaultnet/bench/SUITE.py: net, data, memory, ...; "
                    "tui/bench.py for 'tui'); "
                    "everything after the suite name is passed to it (try 'vaultnet bench net "
                    "--help').")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, metavar="SUITE [OPTIONS]",
                        help="suite name (net, ...) and its options")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    if not args.bench_args:
        raise UsageError("name a benchmark suite, e.g. 'vaultnet bench net'")
    suite = args.bench_args[0]
    if not suite.isidentifier():
        raise UsageError(f"unknown benchmark suite {suite!r}")
    # The dashboard's benchmark lives with the dashboard: nothing under vaultnet/ imports it.
    module = "tui.bench" if suite == "tui" else f"vaultnet.bench.{suite}"
    try:
        bench = importlib.import_module(module)  # lazy: only `bench` pays for it
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the module is there but broken: show the real problem
        raise UsageError(f"unknown benchmark suite {suite!r}") from None
    return int(bench.main(list(args.bench_args[1:])) or 0)
