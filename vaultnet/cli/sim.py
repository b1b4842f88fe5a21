"""`vaultnet sim`: seed sweeps on the simulator (`vaultnet.testing.sweep`).

Decisions:
- Each seed is one generated scenario (`--vaults`, `--ops`, `--faults`); a run prints a progress
  line per seed on a terminal (one line per failure otherwise) and, at the end, each failing
  seed with its broken invariant and the command that reproduces it. Exit 1 if any seed
  failed, 0 if none did.
- `--shrink` shrinks each failure before printing it; the command printed then runs the
  shrunk step list (`--steps`), which a seed alone no longer describes.
- `--seed S --steps LIST` runs one explicit scenario: what a failure report prints.
"""

from __future__ import annotations

import argparse
import sys

from vaultnet.cli.arguments import Subparsers, bounded_count, seed_value, vault_count
from vaultnet.cli.errors import CommandError, UsageError
from vaultnet.testing.sweep import (
    FAULTS,
    SETTLE,
    Failure,
    Outcome,
    Scenario,
    SweepError,
    generate,
    parse_faults,
    parse_steps,
    run,
    shrink,
)

MAX_SEEDS = 1_000_000
"""Most seeds one sweep runs (days of wall time already)."""
MAX_OPS = 1_000
"""Most steps a generated scenario has."""
MAX_SETTLE = 3_600
"""Most simulated seconds `--settle` may give the network (an hour of virtual time)."""


def add_sim_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet sim`: a seed sweep, or one explicit scenario (`--seed --steps`)."""
    parser = subparsers.add_parser(
        "sim", help="seed sweep: random workloads under random faults, checked, shrunk",
        description="Run generated scenarios on the simulator (virtual time) and check that "
                    "nothing acknowledged is lost and every chunk is fully replicated once "
                    "the faults heal. Prints each failing seed with the command that "
                    "reproduces it.")
    parser.add_argument("--seeds", type=bounded_count(MAX_SEEDS), default=10, metavar="N",
                        help="how many seeds to run (default 10)")
    parser.add_argument("--first-seed", type=seed_value, default=0, metavar="S",
                        help="the first seed (default 0)")
    parser.add_argument("--vaults", type=vault_count, default=8, metavar="V",
                        help="vaults per network (default 8)")
    parser.add_argument("--ops", type=bounded_count(MAX_OPS), default=6, metavar="K",
                        help="steps per scenario, operations and faults (default 6)")
    parser.add_argument("--faults", default="all", metavar="KINDS",
                        help=f"comma-separated fault kinds: {','.join(FAULTS)}; 'all' "
                             "(default) or 'none'")
    parser.add_argument("--settle", type=bounded_count(MAX_SETTLE), default=int(SETTLE),
                        metavar="SECONDS",
                        help=f"simulated seconds the network gets to heal after the last step "
                             f"(default {int(SETTLE)})")
    parser.add_argument("--shrink", action="store_true",
                        help="reduce each failing scenario to fewer steps that still fail")
    parser.add_argument("--seed", type=seed_value, default=None, metavar="S",
                        help="with --steps: run this one scenario")
    parser.add_argument("--steps", default=None, metavar="LIST",
                        help="an explicit scenario, e.g. put:7,kill:3,get:1 (as a failure "
                             "report prints it)")
    return parser


def cmd_sim(args: argparse.Namespace) -> int:
    """Run the sweep (or the one scenario), report each failure; exit 1 if any failed."""
    try:
        faults = parse_faults(args.faults)
        steps = None if args.steps is None else parse_steps(args.steps)
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    if args.vaults < 2 * 4:
        raise UsageError("--vaults must be at least 8 (two close groups)")
    if steps is not None:
        scenario = Scenario(args.seed if args.seed is not None else args.first_seed,
                            args.vaults, steps)
        return _report([_one(scenario, args.shrink, args.settle)])
    failures: list[tuple[Scenario, Failure | None]] = []
    interactive = sys.stderr.isatty()
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        scenario = generate(seed, args.vaults, args.ops, faults)
        outcome = run(scenario, args.settle)
        if interactive:
            print(f"\rseed {seed} ({i + 1}/{args.seeds}), {len(failures)} failed",
                  end="", file=sys.stderr, flush=True)
        if outcome.failure is not None:
            if not interactive:
                print(f"seed {seed}: {outcome.failure.invariant}", file=sys.stderr, flush=True)
            failures.append(_shrunk(scenario, outcome.failure, args.settle) if args.shrink
                            else (scenario, outcome.failure))
    if interactive:
        print(file=sys.stderr)
    print(f"{args.seeds} seeds, {len(failures)} failed")
    return _report(failures)


def _one(scenario: Scenario, shrinking: bool,
         settle: float) -> tuple[Scenario, Failure | None]:
    outcome: Outcome = run(scenario, settle)
    if outcome.failure is None or not shrinking:
        return scenario, outcome.failure
    return _shrunk(scenario, outcome.failure, settle)


def _shrunk(scenario: Scenario, failure: Failure,
            settle: float) -> tuple[Scenario, Failure | None]:
    smaller = shrink(scenario, failure, settle)
    return smaller, run(smaller, settle).failure or failure


def _report(results: list[tuple[Scenario, Failure | None]]) -> int:
    failed = [(s, f) for s, f in results if f is not None]
    for scenario, failure in failed:
        print(f"seed {scenario.seed}: {failure.invariant}: {failure.detail}")
        print(f"  {len(scenario.steps)} steps; reproduce: {scenario.command()}")
    if not failed and len(results) == 1:
        print("passed")
    if failed and any(f.invariant == "runs" for _, f in failed):
        raise CommandError("a scenario could not run: " + failed[0][1].detail)
    return 1 if failed else 0
