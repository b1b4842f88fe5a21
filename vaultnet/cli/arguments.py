"""Argument types and flag sets shared by several `vaultnet` commands.

An argparse type raises `argparse.ArgumentTypeError`, which the parser reports as a usage error
(exit 2, one line naming the flag); a check made after parsing raises `UsageError` the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from vaultnet.cli.errors import Parser, UsageError
from vaultnet.client.chunk_input import ChunkInputError, parse_size
from vaultnet.runtime.testnet import TRANSPORTS, TestnetError, check_host
from vaultnet.transport.base import TransportError
from vaultnet.transport.channel import NETWORK_KEY_SIZE
from vaultnet.transport.tcp import parse_address

Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What `add_subparsers` returns, which each command's `add_<name>_parser` is given."""

MAX_VAULTS = 500
"""Most vaults a command line may ask for (`--vaults`)."""


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
    """A seed (argparse type): a whole number, 0 or more, decimal or 0x/0o/0b."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A duration (argparse type): a finite number of seconds above 0."""
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


def host_address(text: str) -> str:
    """An IP address to listen on and advertise (argparse type): not a name, not 0.0.0.0."""
    try:
        check_host(text)
    except TestnetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def vault_address(text: str) -> str:
    """A vault's HOST:PORT (argparse type), HOST an IP address."""
    try:
        host, _ = parse_address(text)
        check_host(host)
    except (TransportError, TestnetError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


MAX_PROCESSES = 64
"""Most processes a testnet may be spread over (`--processes`)."""
VAULTS_PER_PROCESS = 64
"""Vaults per process when `--processes` is not given: below this one process is quicker (a
worker costs a Python start-up and a join), so small testnets, and every existing test, stay in
one process."""

process_count = bounded_count(MAX_PROCESSES)
"""A process count on the command line (1 to MAX_PROCESSES)."""


def default_processes(vaults: int, asked: int | None) -> int:
    """The processes to run `vaults` in: `asked`, else one per VAULTS_PER_PROCESS vaults, at
    most one per core; never more than there are vaults."""
    if asked is None:
        asked = max(1, min(os.cpu_count() or 1, vaults // VAULTS_PER_PROCESS))
    return min(asked, vaults)


def add_network_flags(parser: argparse.ArgumentParser, default_vaults: int) -> None:
    """`--vaults`, `--transport`, `--seed`: the flags of a command that starts a network."""
    parser.add_argument("--vaults", type=vault_count, default=default_vaults, metavar="N",
                        help=f"number of vaults, 1..{MAX_VAULTS} (default {default_vaults})")
    parser.add_argument("--transport", choices=TRANSPORTS, default="tcp",
                        help="tcp: real sockets on 127.0.0.1 (default); sim: in-memory "
                             "simulated network with a virtual clock")
    parser.add_argument("--seed", type=seed_value, default=None, metavar="S",
                        help="seed for vault identities and the simulator (default: random)")


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """`--bootstrap`, `--data-dir`: how a client command finds the running testnet."""
    parser.add_argument("--bootstrap", default=None, metavar="ADDRESS",
                        help="a vault's 127.0.0.1:PORT (default: read the address file of the "
                             "running testnet)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="the testnet's --data-dir, where its address file is")


def check_data_dir(path: Path | None) -> None:
    """Refuse (usage error) a `--data-dir` that exists and is not a directory."""
    if path is not None and path.exists() and not path.is_dir():
        raise UsageError(f"--data-dir {path} exists and is not a directory")


def check_record_path(path: Path) -> None:
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
