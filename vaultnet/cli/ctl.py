"""`vaultnet ctl`: one command (status, add, kill, restart, fault) to a running testnet, sent over
its loopback control port and authenticated with the token in its data directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli.addresses import address_file, read_address_file
from vaultnet.cli.arguments import Subparsers
from vaultnet.cli.errors import CommandError
from vaultnet.control.auth import read_token
from vaultnet.control.client import request
from vaultnet.runtime.faults import Fault


def control_endpoint(data_dir: Path | None) -> tuple[str, str]:
    """The control address and token of the testnet on `data_dir`, for `ctl` and `tui --attach`;
    CommandError if none runs there or it has no control port."""
    record = read_address_file(data_dir)
    address = record.get("control")
    if not isinstance(address, str):
        raise CommandError("that testnet does not accept control commands (started by an "
                           "older vaultnet?)")
    return address, read_token(address_file(data_dir).parent)


def add_ctl_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet ctl [--data-dir DIR] COMMAND ...`."""
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
    """Send the command to the testnet and print its answer, one line per fact."""
    address, token = control_endpoint(args.data_dir)
    argv = [a for a in (getattr(args, "name", None), getattr(args, "kind", None)) if a]
    result = trio.run(request, address, token, args.ctl_command, argv)
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
