"""`vaultnet bench SUITE [OPTIONS]`: run one benchmark suite, passing it the rest of the line.

The suites are the explicit table `SUITES`; each is imported only when it runs (`bench` alone
pays for it). The dashboard's suite lives with the dashboard (`tui/bench.py`): it is reached by
its module path at run time, so nothing under `vaultnet/` imports it.
"""

from __future__ import annotations

import argparse
import importlib

from vaultnet.cli.arguments import Subparsers
from vaultnet.cli.errors import UsageError

SUITES: dict[str, str] = {
    "net": "vaultnet.bench.net",
    "data": "vaultnet.bench.data",
    "memory": "vaultnet.bench.memory",
    "churn": "vaultnet.bench.churn",
    "sim": "vaultnet.bench.sim",
    "tui": "tui.bench",
}
"""Suite name -> the module whose `main(argv) -> int` runs it."""


def add_bench_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet bench SUITE [OPTIONS]` (the options are the suite's own)."""
    parser = subparsers.add_parser(
        "bench", help="benchmarks (e.g. 'vaultnet bench net')",
        description="Run a benchmark suite (vaultnet/bench/SUITE.py: net, data, memory, "
                    "churn, sim; tui/bench.py for 'tui'); "
                    "everything after the suite name is passed to it (try 'vaultnet bench net "
                    "--help').")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, metavar="SUITE [OPTIONS]",
                        help="suite name (net, ...) and its options")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    """Import the named suite (only now) and run it with the remaining arguments."""
    if not args.bench_args:
        raise UsageError("name a benchmark suite, e.g. 'vaultnet bench net'")
    suite = args.bench_args[0]
    module = SUITES.get(suite)
    if module is None:
        raise UsageError(f"unknown benchmark suite {suite!r}")
    try:
        bench = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the module is there but broken: show the real problem
        raise UsageError(f"unknown benchmark suite {suite!r}") from None
    return int(bench.main(list(args.bench_args[1:])) or 0)
