"""`vaultnet version ...`: versioned data (StructuredDataVersions) on a running testnet.

Decisions:
- KEY is 128 hex characters (the tree's 64-byte name itself, as `MaidClient` takes it) or any
  other text, whose tree lives at SHA-512 of its UTF-8 bytes: `vaultnet version list notes` and
  `client.put_version(name_of(b"notes"), ...)` name the same tree. A text that happens to be
  128 hex characters is always taken as a name, never hashed.
- A version prints as `INDEX:ID` (ID: the 128-hex name of the chunk holding it). Where a
  version is given (`--parent`, TIP), `INDEX:PREFIX` with at least 8 hex characters of the ID
  is enough; it is resolved against the versions of the tree's branches.
- `put` stores FILE as a chunk (in the same MAID account as `vaultnet put`) and puts it under
  `--parent`, or under the tree's only tip, or as the root of a new tree; the new version's
  index is its parent's plus one. A tree with several tips needs `--parent`. `--parent` must
  name a version already in the tree (checked before anything is stored, full IDs included):
  the network would accept an unknown parent and keep the new version as an orphan waiting
  for it, which the CLI does not offer.
- A full TIP (128 hex characters) goes to the network as it is, so an unknown one is the
  network's NoSuchVersion; a prefix is resolved first ("no version ... in this tree").
- A new tree is public unless `--mode` says otherwise; `--owner` (a client's name, repeatable)
  names the other owners of a shared tree. Both are refused for a tree that exists.
- Refusals are one line `vaultnet: error: KIND: ...` (KIND: invalid version, no such version,
  branch limit, not an owner) and exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from vaultnet.cli.arguments import Subparsers, add_client_flags
from vaultnet.cli.errors import CommandError
from vaultnet.cli.session import chunk_from_file, run_client
from vaultnet.client.maid import (
    InvalidVersion,
    MaidClient,
    NoAnswer,
    NoSuchVersion,
    NotOwner,
    VersionError,
    VersionLimit,
)
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.xor import NAME_SIZE, Name, name_of

MIN_PREFIX = 8
T = TypeVar("T")


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


def tree_key(text: str) -> Name:
    """The tree's name: 128 hex characters as they are, anything else hashed (SHA-512)."""
    if len(text) == 2 * NAME_SIZE:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(text)
    if not text:
        raise argparse.ArgumentTypeError("KEY must not be empty")
    return name_of(text.encode())


def client_name(text: str) -> Name:
    """A client's name on the command line: 128 hex characters."""
    try:
        name = bytes.fromhex(text)
    except ValueError:
        name = b""
    if len(name) != NAME_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a client name (128 hex characters)")
    return name


def show(version: VersionName) -> str:
    """A version as printed and as typed back: `INDEX:ID`."""
    return f"{version.index}:{version.id.hex()}"


def add_version_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet version COMMAND`, each command with the client flags."""
    parser = subparsers.add_parser(
        "version", help="versioned data: put, list tips, show a branch, delete a branch",
        description="Version trees on a running testnet. KEY is the tree's name (128 hex "
                    "characters) or any other text (the tree lives at its SHA-512); a version "
                    "is INDEX:ID, where a prefix of ID of at least "
                    f"{MIN_PREFIX} hex characters will do.")
    commands = parser.add_subparsers(dest="version_command", metavar="COMMAND",
                                     title="commands", required=True)
    put = commands.add_parser("put", help="store FILE and put it as a new version")
    put.add_argument("key", type=tree_key, metavar="KEY")
    put.add_argument("file", type=Path, metavar="FILE")
    put.add_argument("--parent", type=version_ref, default=None, metavar="VERSION",
                     help="the version to put it under (default: the only tip, or a new tree)")
    put.add_argument("--mode", choices=[m.value for m in TreeMode], default=None,
                     help="who may use a new tree: private (only you), public (anyone reads, "
                          "you write; the default), shared (you and each --owner)")
    put.add_argument("--owner", type=client_name, action="append", default=[], metavar="NAME",
                     help="another owner of a new shared tree (a client's 128-hex name); "
                          "repeat for more")
    listing = commands.add_parser("list", help="the tips of the tree")
    listing.add_argument("key", type=tree_key, metavar="KEY")
    for name, text in (("branch", "the branch from TIP back to the root"),
                       ("delete-branch", "delete from TIP back to its first fork")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("key", type=tree_key, metavar="KEY")
        sub.add_argument("tip", type=version_ref, metavar="TIP")
    for sub in commands.choices.values():
        add_client_flags(sub)
    return parser


def cmd_version(args: argparse.Namespace) -> int:
    """Run one version-tree command and print the versions it names, one per line."""
    key = args.key
    if args.version_command == "put":
        data = chunk_from_file(args.file)
        mode = TreeMode(args.mode) if args.mode else None
        if args.owner and mode is not TreeMode.SHARED:
            raise CommandError("--owner names owners of a shared tree: add --mode shared")
        print(show(_run(args, lambda client: _put(client, key, data, args.parent, mode,
                                                  args.owner))))
    elif args.version_command == "list":
        for version in _run(args, lambda client: client.get_versions(key)):
            print(show(version))
    elif args.version_command == "branch":
        for version in _run(args, lambda client: _branch(client, key, args.tip)):
            print(show(version))
    else:
        for version in _run(args, lambda client: _delete(client, key, args.tip)):
            print(f"deleted {show(version)}")
    return 0


_KINDS: tuple[tuple[type[VersionError], str], ...] = (
    (InvalidVersion, "invalid version"), (NoSuchVersion, "no such version"),
    (VersionLimit, "branch limit"), (NotOwner, "not an owner"))


def _run(args: argparse.Namespace, operation: Callable[[MaidClient], Awaitable[T]]) -> T:
    """`run_client`, with a version refusal turned into one line that names its kind."""
    async def checked(client: MaidClient) -> T:
        try:
            return await operation(client)
        except NoAnswer:
            raise  # a timeout, not a refusal: its own message says so
        except VersionError as exc:
            kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "refused")
            raise CommandError(f"{kind}: {exc}") from None

    result: T = run_client(args, checked)
    return result


async def _put(client: MaidClient, key: Name, data: bytes, parent_ref: tuple[int, str] | None,
               mode: TreeMode | None, owners: list[Name]) -> VersionName:
    if parent_ref is not None:
        parent: VersionName | None = await _resolve(client, key, parent_ref, exact=False)
    else:
        try:
            tips = await client.get_versions(key)
        except NoSuchVersion:
            tips = []
        if len(tips) > 1:
            raise CommandError(f"the tree has {len(tips)} tips; choose one with --parent "
                               "(see 'vaultnet version list')")
        parent = tips[0] if tips else None
    if parent is not None and mode is not None:
        raise CommandError("--mode and --owner apply when a tree is created; this one exists")
    version = VersionName(parent.index + 1 if parent else 0, await client.put(data))
    await client.put_version(key, parent, version, mode=mode or TreeMode.PUBLIC, owners=owners)
    return version


async def _branch(client: MaidClient, key: Name, ref: tuple[int, str]) -> list[VersionName]:
    return await client.get_branch(key, await _resolve(client, key, ref))


async def _delete(client: MaidClient, key: Name, ref: tuple[int, str]) -> list[VersionName]:
    return await client.delete_branch(key, await _resolve(client, key, ref))


async def _resolve(client: MaidClient, key: Name, ref: tuple[int, str],
                   exact: bool = True) -> VersionName:
    """The version of the tree that INDEX:PREFIX names (searched on every tip's branch); a
    full ID is taken as it is when `exact`."""
    index, prefix = ref
    if exact and len(prefix) == 2 * NAME_SIZE:
        return VersionName(index, bytes.fromhex(prefix))
    found: set[VersionName] = set()
    for tip in await client.get_versions(key):
        found.update(v for v in await client.get_branch(key, tip)
                     if v.index == index and v.id.hex().startswith(prefix))
    if len(found) != 1:
        what = "no version" if not found else f"{len(found)} versions match"
        shown = prefix if len(prefix) <= 16 else prefix[:16] + "..."
        raise CommandError(f"{'' if exact else 'invalid parent: '}{what} {index}:{shown} "
                           "in this tree")
    return found.pop()
