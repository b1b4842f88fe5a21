"""`vaultnet tui`: the launcher of the Textual dashboard (the `tui` package).

This is the one door from the library to the dashboard: `cmd_tui` imports `tui.app` and
`tui.errors` inside the function, so no other command (and no library import) loads Textual,
and the library never depends on the dashboard being installed.

By default the dashboard's testnet runs in a process of its own
(`vaultnet.control.process.testnet_process`); `--in-process` keeps it embedded (trio guest mode
on the UI's loop), and `--record` implies that.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import trio

from vaultnet.cli.addresses import address_file
from vaultnet.cli.arguments import (
    Subparsers,
    add_network_flags,
    byte_size,
    check_data_dir,
    check_record_path,
)
from vaultnet.cli.ctl import control_endpoint
from vaultnet.cli.errors import AttachError, CommandError, UsageError
from vaultnet.control import server as control
from vaultnet.control.process import TestnetStartError, testnet_process
from vaultnet.control.remote import RemoteNetwork


def add_tui_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet tui`: an embedded testnet, a replay, or an attached one."""
    parser = subparsers.add_parser(
        "tui", help="the dashboard: an embedded testnet you can watch and poke",
        description="Start the Textual dashboard with an embedded testnet.")
    add_network_flags(parser, default_vaults=16)
    parser.set_defaults(vaults=None)  # 16, or the tour's 8: the dashboard decides
    parser.add_argument("--capacity", type=byte_size, default=None, metavar="BYTES",
                        help="storage capacity of each vault (bytes; K/M/G suffixes allowed)")
    parser.add_argument("--tour", action="store_true",
                        help="a guided tour that acts on the network: a put followed across "
                             "the personas, its three copies, an eviction, a lying vault "
                             "sinking, churn (its own testnet: 8 vaults of 96 KiB unless "
                             "--vaults / --capacity say otherwise)")
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
    parser.add_argument("--in-process", action="store_true",
                        help="run the testnet inside the dashboard's process (trio guest mode) "
                             "instead of a 'vaultnet testnet' of its own: the UI then waits "
                             "for the network (implied by --record)")
    return parser


def attached_network(data_dir: Path | None) -> RemoteNetwork:
    """The testnet running on `data_dir`, checked to answer its control port with the token
    there; AttachError (one line, exit 2) if there is none to steer."""
    try:
        address, token = control_endpoint(data_dir)
        trio.run(control.request, address, token, "status", [])
    except (CommandError, control.ControlError) as exc:
        raise AttachError(f"cannot attach: {exc}") from None
    return RemoteNetwork(address, token, address_file(data_dir).parent)


def cmd_tui(args: argparse.Namespace) -> int:
    """Check the flags, then hand over to the dashboard (imported here, lazily)."""
    if args.replay is not None and args.record is not None:
        raise UsageError("--replay plays a recording; it cannot also --record")
    if args.attach is not None and (args.replay is not None or args.record is not None):
        raise UsageError("--attach watches a running testnet; it cannot also --replay or "
                         "--record")
    if args.in_process and (args.attach is not None or args.replay is not None):
        raise UsageError("--in-process starts a testnet; it cannot also --attach or --replay")
    if args.tour and args.replay is not None:
        raise UsageError("--tour acts on a network; a --replay has none")
    if args.record is not None:
        check_record_path(args.record)
    check_data_dir(args.data_dir)
    try:  # lazy: keeps Textual out of the other commands, and the library off the dashboard
        from tui.app import main as tui_main
        from tui.app import network_size
        from tui.errors import DashboardError
    except ImportError as exc:
        raise CommandError(f"the dashboard is not available: {exc}") from None
    with contextlib.ExitStack() as stack:
        attach = None
        if args.attach is not None:
            attach = attached_network(Path(args.attach) if args.attach else None)
        elif args.replay is None and args.record is None and not args.in_process:
            vaults, capacity = network_size(args.vaults, args.capacity, args.tour)
            try:
                attach = stack.enter_context(testnet_process(
                    vaults, args.transport, args.seed, capacity, args.data_dir))
            except TestnetStartError as exc:
                raise CommandError(str(exc)) from None
        try:
            code = tui_main(vaults=args.vaults, transport=args.transport, seed=args.seed,
                            capacity=args.capacity, data_dir=args.data_dir,
                            record=args.record, replay=args.replay, attach=attach,
                            tour=args.tour)
        except DashboardError as exc:
            raise CommandError(str(exc)) from None
    return int(code or 0)
