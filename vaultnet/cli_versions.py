"""`vaultnet version ...`: versioned data (StructuredDataVersions) on a running testnet.

Decisions:
- KEY is any text; the tree lives at SHA-512 of its UTF-8 bytes, so `vaultnet version list
  notes` and `client.put_version(name_of(b"notes"), ...)` name the same tree.
- A version prints as `INDEX:ID` (ID: the 128-hex name of the chunk holding it). Where a
  version is given (`--parent`, TIP), `INDEX:PREFIX` with at least 8 hex characters of the ID
  is enough; it is resolved against the versions of the tree's branches.
- `put` stores FILE as a chunk (in the same MAID account as `vaultnet put`) and puts it under
  `--parent`, or under the tree's only tip, or as the root of a new tree; the new version's
  index is its parent's plus one. A tree with several tips needs `--parent`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaultnet.cli import CommandError, add_client_flags, run_client
from vaultnet.client import MaidClient, NoSuchVersion
from vaultnet.personas.version_tree import VersionName
from vaultnet.wire import MAX_FRAME_SIZE
from vaultnet.xor import Name, name_of

MIN_PREFIX = 8


def version_ref(text: str) -> tuple[int, str]:
    """`INDEX:HEX` (HEX: the chunk id, or a prefix of at least MIN_PREFIX characters)."""
    index, sep, hex_id = text.partition(":")
    if not sep or not index.isdigit() or len(hex_id) < MIN_PREFIX or len(hex_id) > 128:
        raise argparse.ArgumentTypeError(
            f"a version is INDEX:ID (ID: {MIN_PREFIX} to 128 hex characters), got {text!r}")
    try:
        bytes.fromhex(hex_id if len(hex_id) % 2 == 0 else hex_id + "0")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not hex: {hex_id!r}") from None
    return int(index), hex_id.lower()


def show(version: VersionName) -> str:
    return f"{version.index}:{version.id.hex()}"


def add_version_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "version", help="versioned data: put, list tips, show a branch, delete a branch",
        description="Version trees on a running testnet. KEY is any text (the tree lives at "
                    "its SHA-512); a version is INDEX:ID, where a prefix of ID of at least "
                    f"{MIN_PREFIX} hex characters will do.")
    commands = parser.add_subparsers(dest="version_command", metavar="COMMAND",
                                     title="commands", required=True)
    put = commands.add_parser("put", help="store FILE and put it as a new version")
    put.add_argument("key", metavar="KEY")
    put.add_argument("file", type=Path, metavar="FILE")
    put.add_argument("--parent", type=version_ref, default=None, metavar="VERSION",
                     help="the version to put it under (default: the only tip, or a new tree)")
    listing = commands.add_parser("list", help="the tips of the tree")
    listing.add_argument("key", metavar="KEY")
    for name, text in (("branch", "the branch from TIP back to the root"),
                       ("delete-branch", "delete from TIP back to its first fork")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("key", metavar="KEY")
        sub.add_argument("tip", type=version_ref, metavar="TIP")
    for sub in commands.choices.values():
        add_client_flags(sub)
    return parser


def cmd_version(args: argparse.Namespace) -> int:
    key = name_of(args.key.encode())
    if args.version_command == "put":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        if len(data) > MAX_FRAME_SIZE // 2:
            raise CommandError(f"{args.file} is {len(data)} bytes; a chunk is at most "
                               f"{MAX_FRAME_SIZE // 2} bytes")
        print(show(run_client(args, lambda client: _put(client, key, data, args.parent))))
    elif args.version_command == "list":
        for version in run_client(args, lambda client: client.get_versions(key)):
            print(show(version))
    elif args.version_command == "branch":
        for version in run_client(args, lambda client: _branch(client, key, args.tip)):
            print(show(version))
    else:
        for version in run_client(args, lambda client: _delete(client, key, args.tip)):
            print(f"deleted {show(version)}")
    return 0


async def _put(client: MaidClient, key: Name, data: bytes,
               parent_ref: tuple[int, str] | None) -> VersionName:
    if parent_ref is not None:
        parent: VersionName | None = await _resolve(client, key, parent_ref)
    else:
        try:
            tips = await client.get_versions(key)
        except NoSuchVersion:
            tips = []
        if len(tips) > 1:
            raise CommandError(f"the tree has {len(tips)} tips; choose one with --parent "
                               "(see 'vaultnet version list')")
        parent = tips[0] if tips else None
    version = VersionName(parent.index + 1 if parent else 0, await client.put(data))
    await client.put_version(key, parent, version)
    return version


async def _branch(client: MaidClient, key: Name, ref: tuple[int, str]) -> list[VersionName]:
    return await client.get_branch(key, await _resolve(client, key, ref))


async def _delete(client: MaidClient, key: Name, ref: tuple[int, str]) -> list[VersionName]:
    return await client.delete_branch(key, await _resolve(client, key, ref))


async def _resolve(client: MaidClient, key: Name, ref: tuple[int, str]) -> VersionName:
    """The version of the tree that INDEX:PREFIX names (searched on every tip's branch)."""
    index, prefix = ref
    if len(prefix) == 128:
        return VersionName(index, bytes.fromhex(prefix))
    found = set()
    for tip in await client.get_versions(key):
        found.update(v for v in await client.get_branch(key, tip)
                     if v.index == index and v.id.hex().startswith(prefix))
    if len(found) != 1:
        what = "no version" if not found else f"{len(found)} versions match"
        raise CommandError(f"{what} {index}:{prefix} in this tree")
    return found.pop()
