"""`vaultnet msg ...`: messaging between public identities (MPIDs) on a running testnet.

Decisions:
- Identities are local: `--as NAME` (default `default`) uses the key kept in `mpid-NAME`
  beside the testnet's address file, created on first use. `vaultnet msg whoami --as bob`
  prints bob's MPID name.
- Where an MPID is given (TO, NAME), it is 128 hex characters or `@NAME` for a local identity.
- Only `receive` tells the identity's MpidManagers it is online; they then push the messages
  they hold for it and drop each once it is acknowledged (and printed). The other commands
  connect without going online, so a message held for you is never taken by, say, `send`
  and lost unprinted. A message sent to an identity that is not connected waits for its next
  `receive` (the offline hold).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli import CommandError, add_client_flags, address_file, run_client
from vaultnet.client import open_client
from vaultnet.identity import Identity
from vaultnet.mpid_client import Lists, MpidClient, MpidMessage, open_mpid_client
from vaultnet.xor import NAME_SIZE, Name

DEFAULT_WAIT = 2.0
LIST_CHANGES = ("allow", "disallow", "block", "unblock")


def mpid_ref(text: str) -> str:
    """128 hex characters, or @NAME (resolved once the data directory is known)."""
    if text.startswith("@") and len(text) > 1:
        return text
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != NAME_SIZE:
        raise argparse.ArgumentTypeError(
            f"an MPID is 128 hex characters or @NAME, got {text!r}")
    return text.lower()


def identity_name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError(f"an identity name is letters, digits, - and _, "
                                         f"got {text!r}")
    return text


def add_msg_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "msg", help="messages between MPIDs: send, receive, whitelist, blacklist",
        description="Messaging on a running testnet, as a local identity (--as NAME). An MPID "
                    "is 128 hex characters or @NAME for a local identity.")
    commands = parser.add_subparsers(dest="msg_command", metavar="COMMAND", title="commands",
                                     required=True)
    commands.add_parser("whoami", help="this identity's MPID name")
    send = commands.add_parser("send", help="send TEXT to MPID TO")
    send.add_argument("to", type=mpid_ref, metavar="TO")
    send.add_argument("text", metavar="TEXT")
    receive = commands.add_parser("receive", help="print the messages held for us")
    receive.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                         help=f"how long to wait for pushed messages (default {DEFAULT_WAIT})")
    for change in LIST_CHANGES:
        which = "whitelist" if change in ("allow", "disallow") else "blacklist"
        verb = "add to" if change in ("allow", "block") else "remove from"
        commands.add_parser(change, help=f"{verb} the {which}").add_argument(
            "name", type=mpid_ref, metavar="NAME")
    commands.add_parser("lists", help="show the whitelist and the blacklist")
    for sub in commands.choices.values():
        sub.add_argument("--as", dest="identity", type=identity_name, default="default",
                         metavar="NAME", help="the local identity to act as (default: default)")
        add_client_flags(sub)
    return parser


def cmd_msg(args: argparse.Namespace) -> int:
    directory = address_file(args.data_dir).parent
    if args.msg_command == "whoami":
        print(Identity.load_or_create(directory / f"mpid-{args.identity}").name.hex())
        return 0
    if args.msg_command == "send":
        to = _resolve(directory, args.to)
        _as(args, lambda client: client.send(to, args.text.encode()))
        print(f"sent to {to.hex()[:16]}")
    elif args.msg_command == "receive":
        if args.wait < 0:
            raise CommandError("--wait must not be negative")
        for message in _as(args, lambda client: _receive(client, args.wait), online=True):
            print(f"{message.sender.hex()[:16]}: {message.body.decode(errors='replace')}")
    elif args.msg_command == "lists":
        _print_lists(_as(args, lambda client: client.lists()))
    else:
        name = _resolve(directory, args.name)
        change = getattr(MpidClient, args.msg_command)
        _print_lists(_as(args, lambda client: change(client, name)))
    return 0


def _as(args: argparse.Namespace, operation: Any, online: bool = False) -> Any:
    """Run `operation` connected as the `--as` identity (announced online only if asked)."""
    async def offline(*parts: Any) -> MpidClient:
        return await open_client(*parts, client_class=MpidClient)

    return run_client(args, operation, identity_dir=f"mpid-{args.identity}",
                      opener=open_mpid_client if online else offline)


def _resolve(directory: Path, ref: str) -> Name:
    if not ref.startswith("@"):
        return bytes.fromhex(ref)
    local = directory / f"mpid-{ref[1:]}"
    if not local.is_dir():
        raise CommandError(f"no local identity {ref} (known: "
                           f"{', '.join(_local_names(directory)) or 'none'})")
    return Identity.load_or_create(local).name


def _local_names(directory: Path) -> list[str]:
    return sorted("@" + p.name[len("mpid-"):] for p in directory.glob("mpid-*") if p.is_dir())


async def _receive(client: MpidClient, wait: float) -> list[MpidMessage]:
    """What the managers pushed on connect, plus what arrives within `wait` seconds."""
    messages = client.received_nowait()
    with trio.move_on_after(wait):
        while True:
            messages.append(await client.receive())
    return messages


def _print_lists(lists: Lists) -> None:
    for which, names in (("whitelist", lists.whitelist), ("blacklist", lists.blacklist)):
        print(f"{which}: {' '.join(n.hex()[:16] for n in names) or '(empty)'}")
