"""`vaultnet put / get / delete`: immutable chunks on a running testnet, as the local client."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaultnet.cli.arguments import Subparsers, add_client_flags
from vaultnet.cli.session import chunk_from_file, run_client


def chunk_name(text: str) -> bytes:
    """A chunk name (argparse type): 128 hex characters."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex chunk name: {text!r}") from None
    if len(value) != 64:
        raise argparse.ArgumentTypeError(
            f"a chunk name is 128 hex characters, got {len(text)}")
    return value


def add_put_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet put FILE`."""
    parser = subparsers.add_parser("put", help="store a file on a running testnet",
                                   description="Store FILE as one chunk; prints its name.")
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--unique", action="store_true",
                        help="refuse (exit 1, nothing charged) if the network holds it already")
    add_client_flags(parser)
    return parser


def add_get_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet get NAME`."""
    parser = subparsers.add_parser("get", help="fetch a chunk from a running testnet",
                                   description="Fetch chunk NAME (128 hex characters).")
    parser.add_argument("name", type=chunk_name, metavar="NAME")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write the chunk here (default: standard output)")
    add_client_flags(parser)
    return parser


def add_delete_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet delete NAME`."""
    parser = subparsers.add_parser("delete", help="delete a chunk you stored",
                                   description="Delete chunk NAME (128 hex characters).")
    parser.add_argument("name", type=chunk_name, metavar="NAME")
    add_client_flags(parser)
    return parser


def cmd_put(args: argparse.Namespace) -> int:
    """Store FILE as one chunk and print its name (the key to get and delete it)."""
    data = chunk_from_file(args.file)
    name = run_client(args, lambda client: client.put(data, unique=args.unique))
    print(name.hex())
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """Fetch chunk NAME to `--output` or, byte for byte, to standard output."""
    data = run_client(args, lambda client: client.get(args.name))
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.output.write_bytes(data)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete chunk NAME from this client's account; say whether it was there."""
    held = run_client(args, lambda client: client.delete(args.name))
    print(f"deleted {args.name.hex()[:16]}" if held
          else f"{args.name.hex()[:16]} is not in your account: nothing deleted")
    return 0
