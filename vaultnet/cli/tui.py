"""`vaultnet tui`: the launcher of the Textual dashboard (the `tui` package).

This is the one door from the library to the dashboard: `cmd_tui` imports `tui.app` and
`tui.errors` inside the function, so no other command (and no library import) loads Textual,
and the library never depends on the dashboard being installed.

By default the dashboard's testnet runs in a process of its own (`vaultnet testnet`, started
here and attached to through its control port), so the network's work never delays a key
press: in one process, trio's guest ticks took 37 of 40 s of the UI's event loop (issue 17).
`--in-process` keeps the embedded testnet (trio guest mode); `--record` implies it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
from vaultnet.control.remote import RemoteNetwork
from vaultnet.filemodes import private_dir


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


READY_WAIT = 120.0
"""Seconds the dashboard's own testnet may take to print its ready line."""
STOP_WAIT = 20.0
"""Seconds it may take to stop after SIGTERM before it is killed."""
LOG_FILE = "testnet.log"
"""Its output, in its data directory (read for the ready line and for why it failed)."""
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGTERM it if the dashboard dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def testnet_command(args: argparse.Namespace, data_dir: Path) -> list[str]:
    """The `vaultnet testnet` command line of the dashboard's own testnet: the launcher's
    network flags, on `data_dir`, in one process (as the embedded one was)."""
    command = [sys.executable, "-m", "vaultnet", "testnet", "--data-dir", str(data_dir),
               "--vaults", str(args.vaults), "--transport", args.transport,
               "--processes", "1"]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.capacity is not None:
        command += ["--capacity", str(args.capacity)]
    return command


@contextlib.contextmanager
def own_testnet(args: argparse.Namespace) -> Iterator[RemoteNetwork]:
    """A `vaultnet testnet` subprocess for the dashboard, attached once it printed its ready
    line; stopped on the way out however the dashboard ends (SIGTERM, a wait, SIGKILL if it
    does not stop), and killed by the kernel if this process dies first. CommandError (one
    line) if it does not start."""
    temporary = args.data_dir is None
    data_dir = (Path(tempfile.mkdtemp(prefix="vaultnet-tui-")) if temporary
                else args.data_dir.resolve())
    private_dir(data_dir)
    log = data_dir / LOG_FILE
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(
                testnet_command(args, data_dir), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)  # prctl only: safe between fork and exec
        try:
            _wait_ready(process, log)
            yield attached_network(data_dir)
        finally:
            _stop(process)
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the testnet's ready line; CommandError with its last line if it exits first."""
    deadline = time.monotonic() + READY_WAIT
    while True:
        lines = log.read_text(errors="replace").splitlines()
        if any(line.startswith("ready:") for line in lines):
            return
        if process.poll() is not None:
            last = lines[-1] if lines else "no output"
            raise CommandError(f"the dashboard's testnet did not start (exit "
                               f"{process.returncode}): {last}")
        if time.monotonic() > deadline:
            raise CommandError(f"the dashboard's testnet was not ready in {READY_WAIT:g}s "
                               f"(see {log})")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait for the clean shutdown, SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        from tui.errors import DashboardError
        from tui.network import NetworkConfig
        from tui.scenario import TOUR_CAPACITY, TOUR_VAULTS
    except ImportError as exc:
        raise CommandError(f"the dashboard is not available: {exc}") from None
    with contextlib.ExitStack() as stack:
        attach = None
        if args.attach is not None:
            attach = attached_network(Path(args.attach) if args.attach else None)
        elif args.replay is None and args.record is None and not args.in_process:
            if args.tour:
                args.vaults, args.capacity = (args.vaults or TOUR_VAULTS,
                                              args.capacity or TOUR_CAPACITY)
            args.vaults = args.vaults or NetworkConfig.vaults
            attach = stack.enter_context(own_testnet(args))
        try:
            code = tui_main(vaults=args.vaults, transport=args.transport, seed=args.seed,
                            capacity=args.capacity, data_dir=args.data_dir,
                            record=args.record, replay=args.replay, attach=attach,
                            tour=args.tour)
        except DashboardError as exc:
            raise CommandError(str(exc)) from None
    return int(code or 0)
