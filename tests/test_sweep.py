"""The seed sweep: deterministic runs, a planted bug found and shrunk, every fault kind, the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vaultnet.personas.pmid_node import PmidNode
from vaultnet.storage.store import CopyKind
from vaultnet.testing import sweep
from vaultnet.testing.sweep import (
    FAULTS,
    OPERATIONS,
    Scenario,
    Step,
    StepKind,
    generate,
    run,
    shrink,
)


def test_a_seed_gives_the_same_run_byte_for_byte() -> None:
    for seed in (3, 4):
        scenario = generate(seed, 8, 5, tuple(FAULTS))
        first, second = run(scenario, settle=60), run(scenario, settle=60)
        assert first.trace == second.trace and first.failure == second.failure
        assert (first.acknowledged, first.refused) == (second.acknowledged, second.refused)
    assert run(generate(3, 8, 5, ()), 60).trace != run(generate(4, 8, 5, ()), 60).trace


def test_scenarios_come_from_the_seed_and_respect_the_fault_kinds() -> None:
    assert generate(9, 8, 20, ("churn",)) == generate(9, 8, 20, ("churn",))
    kinds = {step.kind for step in generate(9, 8, 200, ("churn", "lie")).steps}
    assert kinds == {*OPERATIONS, StepKind.KILL, StepKind.ADD, StepKind.LIE}
    assert {s.kind for s in generate(9, 8, 50, ()).steps} == set(OPERATIONS)
    with pytest.raises(sweep.SweepError, match="unknown fault kind 'fire'"):
        sweep.parse_faults("churn,fire")
    steps = sweep.parse_steps("put:7,kill:3")
    assert steps == (Step(StepKind.PUT, 7), Step(StepKind.KILL, 3))
    assert sweep.parse_steps(Scenario(1, 8, steps).command().split("--steps ")[1]) == steps


def test_a_planted_bug_is_found_and_shrunk_to_a_few_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A PmidNode that says "stored" for a Backup copy without keeping it (planted here, not
    in the shipped code): the sweep's replication invariant catches it, and the shrink cuts
    the workload down to the one put that shows it."""
    honest = PmidNode._store

    def forgets_backups(self, copy, kind, payload, msg, ctx, out):  # type: ignore[no-untyped-def]
        if kind is CopyKind.BACKUP:
            self.losing, was = True, self.losing
            honest(self, copy, kind, payload, msg, ctx, out)
            self.losing = was
        else:
            honest(self, copy, kind, payload, msg, ctx, out)

    monkeypatch.setattr(PmidNode, "_store", forgets_backups)
    failures = sweep.sweep(range(3), vaults=8, ops=8, faults=(), settle=30)
    assert failures, "the sweep missed the planted bug"
    scenario, failure = failures[0]
    assert failure.invariant == "replication" and "BACKUP" in failure.detail
    smaller = shrink(scenario, failure, settle=30)
    assert len(smaller.steps) <= 2 < len(scenario.steps)
    assert StepKind.PUT in {step.kind for step in smaller.steps}
    again = run(smaller, settle=30).failure
    assert again is not None and again.invariant == "replication"


def test_every_fault_kind_appears_in_generated_scenarios() -> None:
    kinds = {step.kind for seed in range(12)
             for step in generate(seed, 8, 6, tuple(FAULTS)).steps}
    assert kinds >= {StepKind.KILL, StepKind.ADD, StepKind.RESTART, StepKind.LIE,
                     StepKind.LOSE, StepKind.PARTITION, StepKind.DROP, StepKind.DUPLICATE}


def test_a_small_sweep_of_churn_restarts_liars_and_losers() -> None:
    """12 seeds of kills, adds, restarts, lying and data-losing vaults: nothing acknowledged
    lost, full replication. (The README gives the command for long sweeps.)"""
    assert sweep.sweep(range(12), vaults=8, ops=6,
                       faults=("churn", "restart", "lie", "lose")) == []


@pytest.mark.parametrize("seed, steps", [(10, "partition:95684110,put:762532116"),
                                         (9, "put:813938401,duplicate:907497995")])
def test_link_faults_before_or_during_a_put(seed: int, steps: str) -> None:
    """Found by the sweep: members that saw different live vaults after a partition proposed
    a put with different holders (seed 10: the split vote is now re-voted), and members whose
    links to a live holder broke for a moment removed and replaced it on their own (seed 9: a
    departure now counts once it has lasted LEFT_AFTER seconds)."""
    outcome = run(Scenario(seed, 8, sweep.parse_steps(steps)), settle=120)
    assert outcome.failure is None, outcome.failure


def test_a_copy_put_lost_on_a_broken_link_is_sent_again() -> None:
    """Found by the sweep (seeds 4, 46, 87, 141): every MaidManager's copy of the Sacrificial
    put crossed the vault whose channels broke as a partition healed; the client was answered
    on the Primary and nothing sent the lost put again. Copy puts are now confirmed by their
    DataManagers and sent again until they are (`vaultnet.personas.copy_puts`)."""
    steps = sweep.parse_steps("add:850528596,put:142840088,lose:126373091,"
                              "partition:594171453,put:562038512,kill:558891521")
    outcome = run(Scenario(4, 8, steps), settle=120)
    assert outcome.failure is None, outcome.failure


def test_a_copy_every_holder_lost_is_caught_and_replaced() -> None:
    """Found by the sweep (seed 102, shrunk): both holders of a Primary are vaults that lose
    what they store. The auditor needs the content to check them and fetched it only from
    those holders, so the check gave up and the record named them for good; it now fetches
    from a sibling copy's group too, fails both, and the copy is replaced."""
    steps = sweep.parse_steps("lose:769311305,lose:391881952,put:809858954")
    outcome = run(Scenario(102, 8, steps), settle=120)
    assert outcome.failure is None, outcome.failure


def test_a_restart_within_a_votes_resend_window_is_found_by_the_sweep() -> None:
    """Found by the sweep (seed 348): a DataManager committed a contested Backup put, was
    restarted a second later, and its peers' resent votes for the same put reached the quorum
    again in its empty in-memory tables: it applied the put twice (2 subscribers where the
    others had 1). What a persona applied is now kept in its database, and not applied again."""
    steps = sweep.parse_steps("put:453488309,partition:191331757,put:902491365,"
                              "put:945206507,restart:771667509,duplicate:203361437")
    outcome = run(Scenario(348, 8, steps))
    assert outcome.failure is None, outcome.failure


@pytest.mark.parametrize("seed, steps", [
    (582, "add:489899241,put:821423419,kill:426103524,version:301679615,lie:3933109,"
          "restart:660724861"),
    (137, "drop:699320516,put:1048717489,drop:691794803,version:1016584433,drop:708060308,"
          "kill:304042196")])
def test_members_that_saw_a_departure_differently_agree_again(seed: int, steps: str) -> None:
    """Found by the sweep: a departure is applied by each DataManager on its own view, and
    members that saw it differently kept different holders for good. Seed 582: a member
    restarted just after a holder died never saw it leave and kept it. Seed 137: a member that
    committed a put long before its peers (votes lost, then resent) replaced a holder its links
    lost for a while, which its peers, committing later, kept. Members that applied a
    departure now compare the copy's holders with their peers' later (`DepartureChecks`)."""
    outcome = run(Scenario(seed, 8, sweep.parse_steps(steps)), settle=120)
    assert outcome.failure is None, outcome.failure


def test_a_newcomer_does_not_count_a_put_its_transferred_record_holds() -> None:
    """Found by the sweep (seed 1625): a newcomer accepted a copy's record from two members,
    one of which had taken it by transfer and listed none of the actions it reflects, then
    applied the members' resent votes for the put the record already held."""
    steps = sweep.parse_steps("partition:653156679,put:323585364,message:840089530,"
                              "version:589542650,add:177013337,duplicate:388481077")
    outcome = run(Scenario(1625, 8, steps), settle=120)
    assert outcome.failure is None, outcome.failure


SWEEP_SEEDS = 200
SWEEP_BATCHES = 8
"""The CI sweep: seeds 0-199 of the default scenario (8 vaults, 6 steps, every fault kind),
in batches that pytest-xdist spreads over the workers."""


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(SWEEP_BATCHES))
def test_200_seeds_with_every_fault_kind(batch: int) -> None:
    """The sweep `vaultnet sim --seeds 200 --faults all` runs: nothing acknowledged lost, every
    chunk fully replicated and its groups agreeing once the faults heal, for every seed."""
    failures = sweep.sweep(range(batch, SWEEP_SEEDS, SWEEP_BATCHES), vaults=8, ops=6,
                           faults=tuple(FAULTS))
    assert failures == [], "\n".join(f"{failure.invariant}: {failure.detail}\n  reproduce: "
                                     f"{scenario.command()}" for scenario, failure in failures)


def vaultnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", *args], capture_output=True,
                          text=True, timeout=600)


def test_the_sim_command() -> None:
    ok = vaultnet("sim", "--seeds", "2", "--ops", "3", "--faults", "churn")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("2 seeds, 0 failed")
    one = vaultnet("sim", "--seed", "5", "--steps", "put:1,add:2,get:0", "--settle", "60")
    assert one.returncode == 0 and one.stdout.strip() == "passed", one.stderr
    for args, text in ((("--faults", "fire"), "unknown fault kind 'fire'"),
                       (("--steps", "put:x"), "malformed step 'put:x'"),
                       (("--seeds", "0"), "must be between 1 and"),
                       (("--vaults", "4"), "--vaults must be at least 8")):
        bad = vaultnet("sim", *args)
        assert bad.returncode == 2 and text in bad.stderr, bad.stderr
        assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
