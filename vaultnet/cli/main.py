"""`vaultnet ...`: the parser, the explicit command registry and the dispatch.

Each command lives in the module of its family and is two functions: `add_<name>_parser
(subparsers) -> ArgumentParser` declares its flags, `cmd_<name>(args) -> int` runs it and
returns the exit code. `COMMANDS` below lists them (order = order in `--help`); a new command is
a module with those two functions plus one row there. No command module imports this one.

Exit codes and the one-line error style are in `vaultnet.cli.errors`; the address file through
which the commands find a running testnet is `vaultnet.cli.addresses`.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from vaultnet.cli import (
    bench,
    ctl,
    data,
    messages,
    sim,
    structured,
    testnet,
    tui,
    vaults,
    versions,
)
from vaultnet.cli.addresses import ADDRESS_FILE, ADDRESS_FORMAT
from vaultnet.cli.arguments import Subparsers
from vaultnet.cli.errors import PROG, CommandError, Parser, UsageError, error_line, leaves
from vaultnet.cli.tui import attached_network
from vaultnet.control.client import ControlError
from vaultnet.identity import IdentityError
from vaultnet.runtime.allocator import limit_fragmentation
from vaultnet.runtime.collector import tune_collector
from vaultnet.runtime.testnet import TestnetError

__all__ = ["ADDRESS_FILE", "ADDRESS_FORMAT", "COMMANDS", "Command", "attached_network",
           "build_parser", "main"]
# ADDRESS_FILE, ADDRESS_FORMAT and attached_network are re-exported for callers that reach
# them through this module (tests/tui/test_attach.py, tests/test_control_robust.py).


@dataclass(frozen=True)
class Command:
    """One subcommand: how it declares its flags and what runs it (returning the exit code)."""

    add_parser: Callable[[Subparsers], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "testnet": Command(testnet.add_testnet_parser, testnet.cmd_testnet),
    "ctl": Command(ctl.add_ctl_parser, ctl.cmd_ctl),
    "put": Command(data.add_put_parser, data.cmd_put),
    "get": Command(data.add_get_parser, data.cmd_get),
    "delete": Command(data.add_delete_parser, data.cmd_delete),
    "register-vault": Command(vaults.add_register_vault_parser, vaults.cmd_register_vault),
    "unregister-vault": Command(vaults.add_unregister_vault_parser,
                                vaults.cmd_unregister_vault),
    "version": Command(versions.add_version_parser, versions.cmd_version),
    "sd": Command(structured.add_sd_parser, structured.cmd_sd),
    "msg": Command(messages.add_msg_parser, messages.cmd_msg),
    "tui": Command(tui.add_tui_parser, tui.cmd_tui),
    "bench": Command(bench.add_bench_parser, bench.cmd_bench),
    "sim": Command(sim.add_sim_parser, sim.cmd_sim),
}
"""The subcommands, by name, in `--help` order."""

EXPECTED = (TestnetError, OSError, CommandError, ControlError, IdentityError)
"""Failures reported as one line (exit 1, or the CommandError's own code); others are bugs."""


def _version() -> str:
    """The installed package's version, for `--version` (imported lazily: only it pays)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vaultnet")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> Parser:
    """The `vaultnet` parser, one subparser per row of COMMANDS, each knowing its handler."""
    parser = Parser(
        prog=PROG,
        description="Run and inspect a MaidSafe-style vault network.",
        epilog="Run 'vaultnet COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS.values():
        command.add_parser(subparsers).set_defaults(handler=command.run)
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
        error_line(f"name a command: {', '.join(COMMANDS)} (see '{PROG} --help')")
        return 2
    limit_fragmentation()
    tune_collector()
    try:
        return handler(args)
    except UsageError as exc:
        error_line(f"{exc} (see '{PROG} {args.command} --help')")
        return 2
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # classified below; re-raised unless ours
        if reader_gone(exc):
            return SIGPIPE_EXIT
        code = _failure_code(exc)
        if code is None:
            raise
        return code


SIGPIPE_EXIT = 128 + signal.SIGPIPE
"""What a command whose reader went away exits with: what a shell reports for `cat` or `ls`
killed by SIGPIPE in `... | head -1`."""


def reader_gone(exc: BaseException) -> bool:
    """Whether `exc` is our stdout's reader closing the pipe (`vaultnet ctl status | head -1`):
    not an error to report, as for any Unix tool. A broken pipe is ours when stdout polls as
    failed (a connection's broken pipe is an error like any other); stdout is then pointed at
    /dev/null, so the output still buffered does not fail again as the interpreter exits."""
    if not any(isinstance(e, BrokenPipeError) for e in leaves(exc)):
        return False
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # not a real file (a test's capture): nothing was piped
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    if not any(events & select.POLLERR for _, events in poller.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


def _failure_code(exc: BaseException) -> int | None:
    """Exit code for an expected failure (reported as one line), None for a real bug."""
    found = list(leaves(exc))
    if any(isinstance(e, KeyboardInterrupt) for e in found):
        return 130
    if not found or not all(isinstance(e, EXPECTED) for e in found):
        return None
    first = found[0]
    error_line(_describe(first))
    return first.exit_code if isinstance(first, CommandError) else 1


def _describe(exc: BaseException) -> str:
    """The one line for an expected failure: an OSError's text and file, else the message."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__
