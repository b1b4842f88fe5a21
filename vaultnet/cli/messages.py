"""`vaultnet msg ...`: messaging between public identities (MPIDs) on a running testnet.

Decisions:
- Identities are local: `--as NAME` (default `default`) uses the key kept in `mpid-NAME`
  beside the testnet's address file, created on first use (`Identity.load_or_create`).
  `vaultnet msg whoami --as bob` prints bob's MPID name.
- Where an MPID is given (TO, NAME), it is 128 hex characters or `@NAME` for a local identity
  that already exists; anything else (bad hex, wrong length, an unknown `@NAME`) is a usage
  error (exit 2).
- Only `receive` tells the identity's MpidManagers it is online; they answer with how many
  messages they hold and push them, and drop each once it is acknowledged. `receive` waits
  (at most HELD_DEADLINE seconds) until that many have arrived, prints them, then keeps
  listening for `--wait` more seconds (default 0). Should fewer arrive in time, a note on
  stderr says so (exit 0: the rest were not acknowledged, so they stay held). The other
  commands connect without going online, so a message held for you is never taken by, say,
  `send` and lost unprinted; a message sent to an identity that is not connected waits for
  its next `receive` (the offline hold). `inbox` lists what the managers still hold, without
  taking it.
- A message prints as `SENDER: TEXT` (SENDER: the first 16 hex characters of the MPID, TEXT
  decoded as UTF-8 with replacement). A refused send is one line naming why (blocked, inbox
  full, outbox full, not delivered), exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli.addresses import address_file
from vaultnet.cli.arguments import Subparsers, add_client_flags
from vaultnet.cli.errors import CommandError, UsageError
from vaultnet.cli.session import run_client
from vaultnet.client.maid import open_client
from vaultnet.client.mpid import (
    Blocked,
    InboxFull,
    Lists,
    MessagingError,
    MpidClient,
    MpidMessage,
    NotDelivered,
    OutboxFull,
)
from vaultnet.identity import Identity
from vaultnet.personas.bodies import LIST_CHANGES
from vaultnet.transport.base import Endpoint
from vaultnet.xor import NAME_SIZE, Name

DEFAULT_WAIT = 0.0
HELD_DEADLINE = 10.0


def mpid_ref(text: str) -> str:
    """128 hex characters, or @NAME (resolved once the data directory is known)."""
    if text.startswith("@"):
        identity_name(text[1:])  # a malformed @NAME is a usage error too
        return text
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != NAME_SIZE:
        raise argparse.ArgumentTypeError(
            f"an MPID is 128 hex characters or @NAME, got {text!r}")
    return text.lower()


def wait_seconds(text: str) -> float:
    """A number of seconds, 0 or more (for --wait)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def identity_name(text: str) -> str:
    """A local identity's name (argparse type): letters, digits, - and _ (a directory name)."""
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise argparse.ArgumentTypeError(f"an identity name is letters, digits, - and _, "
                                         f"got {text!r}")
    return text


def add_msg_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet msg COMMAND`, each command with `--as` and the client flags."""
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
    receive = commands.add_parser(
        "receive", help="go online, print (and take) the messages held for us")
    receive.add_argument("--wait", type=wait_seconds, default=DEFAULT_WAIT, metavar="SECONDS",
                         help="after the held messages, keep listening for new ones this long "
                              f"(default {DEFAULT_WAIT:g})")
    commands.add_parser("inbox", help="list the messages held for us, without taking them")
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
    """Run one messaging command as the `--as` identity and print what it got."""
    directory = address_file(args.data_dir).parent
    if args.msg_command == "whoami":
        print(Identity.load_or_create(directory / f"mpid-{args.identity}").name.hex())
        return 0
    if args.msg_command == "send":
        to = _resolve(directory, args.to)
        _as(args, lambda client: _send(client, to, args.text.encode()))
        print(f"sent to {to.hex()[:16]}")
    elif args.msg_command == "receive":
        messages, held = _as(args, lambda client: _receive(client, args.wait))
        _print_messages(messages)
        if len(messages) < held:  # not acknowledged, so still held: not an error
            print(f"vaultnet: note: {len(messages)} of the {held} held messages arrived; "
                  "run 'vaultnet msg receive' again for the rest", file=sys.stderr)
    elif args.msg_command == "inbox":
        _print_messages(_as(args, lambda client: client.inbox()))
    elif args.msg_command == "lists":
        _print_lists(_as(args, lambda client: client.lists()))
    else:
        name = _resolve(directory, args.name)
        change = getattr(MpidClient, args.msg_command)
        _print_lists(_as(args, lambda client: change(client, name)))
    return 0


def _as(args: argparse.Namespace, operation: Any) -> Any:
    """Run `operation` connected as the `--as` identity (not announced online: `_receive`
    does that itself, to learn how many messages are held)."""
    async def offline(endpoint: Endpoint, bootstrap: list[str], nursery: trio.Nursery,
                      identity: Identity) -> MpidClient:
        return await open_client(endpoint, bootstrap, nursery, identity, client_class=MpidClient)

    return run_client(args, operation, identity_dir=f"mpid-{args.identity}", opener=offline)


_REFUSALS: tuple[tuple[type[MessagingError], str], ...] = (
    (Blocked, "blocked"), (InboxFull, "inbox full"), (OutboxFull, "outbox full"),
    (NotDelivered, "not delivered"))


async def _send(client: MpidClient, to: Name, body: bytes) -> None:
    """Send, turning a refusal into one line that names its kind and the recipient."""
    try:
        await client.send(to, body)
    except MessagingError as exc:
        kind = next((label for cls, label in _REFUSALS if isinstance(exc, cls)), "refused")
        raise CommandError(f"message to {to.hex()[:16]} not sent ({kind}): {exc.reason}"
                           ) from None


def _resolve(directory: Path, ref: str) -> Name:
    if not ref.startswith("@"):
        return bytes.fromhex(ref)
    local = directory / f"mpid-{ref[1:]}"
    if not local.is_dir():
        raise UsageError(f"no local identity {ref} (known: "
                           f"{', '.join(_local_names(directory)) or 'none'})")
    return Identity.load_or_create(local).name


def _local_names(directory: Path) -> list[str]:
    return sorted("@" + p.name[len("mpid-"):] for p in directory.glob("mpid-*") if p.is_dir())


async def _receive(client: MpidClient, wait: float) -> tuple[list[MpidMessage], int]:
    """Go online; the messages the managers then push (waiting until as many as they said
    they hold arrived, at most HELD_DEADLINE s), plus what arrives in `wait` more seconds;
    and how many they said they held."""
    held = await client.go_online()
    messages = client.received_nowait()
    with trio.move_on_after(HELD_DEADLINE):
        while len(messages) < held:
            messages.append(await client.receive())
    messages.extend(client.received_nowait())
    with trio.move_on_after(wait):
        while True:
            messages.append(await client.receive())
    return messages, held


def _print_messages(messages: list[MpidMessage]) -> None:
    for message in messages:
        print(f"{message.sender.hex()[:16]}: {message.body.decode(errors='replace')}")


def _print_lists(lists: Lists) -> None:
    for which, names in (("whitelist", lists.whitelist), ("blacklist", lists.blacklist)):
        print(f"{which}: {' '.join(n.hex()[:16] for n in names) or '(empty)'}")
