"""`vaultnet sd ...`: structured data (owner-signed mutable records) on a running testnet.

Decisions:
- KEY names the record as `vaultnet version` names a tree (`tree_key`): 128 hex characters are
  the 64-byte name itself, any other text is hashed (SHA-512 of its UTF-8 bytes), so
  `vaultnet sd get profile` and `client.get_structured(name_of(b"profile"))` read the same
  record.
- The records are owned by the local client's key (the identity `vaultnet put` uses, kept
  beside the address file): `put` and `update` sign with it, and only it updates or deletes.
- FILE is read like a chunk's file (a regular file, not empty) and must hold at most
  MAX_DATA_SIZE (64 KiB) bytes; the client refuses a larger one before sending anything.
- `update` writes the current version plus one unless `--version` names the version (then a
  record that moved on meanwhile is refused as stale instead of overwritten); `delete` deletes
  the current version unless `--version` names it.
- `get` writes the data byte for byte to standard output, or to `-o FILE` and then prints the
  version; the record is shown only if its owner's signature verifies.
- Output: `put` and `update` print `version N`, `delete` prints `deleted version N`. Every
  refusal (record exists, not the owner, stale version, no such record, too large, over the
  allowance, invalid signature) is one line `vaultnet: error: ...` and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaultnet.cli.arguments import Subparsers, add_client_flags
from vaultnet.cli.session import chunk_from_file, run_client
from vaultnet.cli.versions import tree_key
from vaultnet.personas.structured_data import MAX_DATA_SIZE, MAX_VERSION, StructuredRecord


def version_number(text: str) -> int:
    """A record's version on the command line: a whole number from 0 to MAX_VERSION."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= MAX_VERSION:
        raise argparse.ArgumentTypeError(f"a version is 0 to {MAX_VERSION}, got {value}")
    return value


def add_sd_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet sd COMMAND`, each command with the client flags."""
    parser = subparsers.add_parser(
        "sd", help="structured data: owner-signed mutable records (put, get, update, delete)",
        description="Owner-signed mutable records on a running testnet, owned by this "
                    "client's key. KEY is the record's name (128 hex characters) or any other "
                    "text (the record lives at its SHA-512); FILE holds the record's data, at "
                    f"most {MAX_DATA_SIZE} bytes.")
    commands = parser.add_subparsers(dest="sd_command", metavar="COMMAND", title="commands",
                                     required=True)
    put = commands.add_parser("put", help="create the record KEY (version 0) from FILE")
    put.add_argument("key", type=tree_key, metavar="KEY")
    put.add_argument("file", type=Path, metavar="FILE")
    get = commands.add_parser("get", help="read the record KEY (anyone may)")
    get.add_argument("key", type=tree_key, metavar="KEY")
    get.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                     help="write the data here and print the version (default: the data to "
                          "standard output)")
    update = commands.add_parser("update", help="replace the data of your record KEY")
    update.add_argument("key", type=tree_key, metavar="KEY")
    update.add_argument("file", type=Path, metavar="FILE")
    delete = commands.add_parser("delete", help="delete your record KEY")
    delete.add_argument("key", type=tree_key, metavar="KEY")
    for sub, what in ((update, "the version to write (default: the current one plus one)"),
                      (delete, "the version to delete (default: the current one)")):
        sub.add_argument("--version", type=version_number, default=None,
                         metavar="N", help=what + "; refused as stale if the record is not "
                                                  "there")
    for sub in commands.choices.values():
        add_client_flags(sub)
    return parser


def cmd_sd(args: argparse.Namespace) -> int:
    """Run one structured data command and print what it did."""
    key = args.key
    if args.sd_command == "put":
        data = chunk_from_file(args.file)
        record: StructuredRecord = run_client(
            args, lambda client: client.put_structured(key, data))
        print(f"version {record.version}")
    elif args.sd_command == "update":
        data = chunk_from_file(args.file)
        record = run_client(args, lambda client: client.update_structured(key, data,
                                                                          args.version))
        print(f"version {record.version}")
    elif args.sd_command == "delete":
        record = run_client(args, lambda client: client.delete_structured(key, args.version))
        print(f"deleted version {record.version}")
    else:
        record = run_client(args, lambda client: client.get_structured(key))
        if args.output is None:
            sys.stdout.buffer.write(record.data)
            sys.stdout.flush()
        else:
            args.output.write_bytes(record.data)
            print(f"version {record.version}")
    return 0
