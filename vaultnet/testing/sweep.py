"""Seed sweeps: a random workload under random faults on the simulator, checked by invariants;
a failing run is reproduced by its seed (or its step list) and shrunk to fewer steps.

In the spirit of FoundationDB's simulation and TigerBeetle's VOPR: a seed decides everything
(the network, the workload, the faults and their timing), trio's MockClock makes simulated time
free, so thousands of seeds cost minutes. Shrinking (delta debugging over the step list, as
Hypothesis shrinks examples) turns a failing run of dozens of steps into the few that matter.

A scenario is a list of `Step`s. Each step's `arg` is a number drawn from the seed; what it
picks (which vault to kill, which chunk to get) is resolved when the step runs, modulo what
exists then, so any sub-list of steps is a valid scenario too: that is what lets a shrink drop
steps freely. Operations that fail under faults (a put nobody answered during a partition) are
allowed; what must hold is checked once the faults are healed and the network settled:

- nothing acknowledged is lost: every chunk whose put was answered, and not deleted since,
  can be fetched with its content;
- full replication: every live chunk's copies are on their holders and every member of each
  copy's group holds the same record (`vaultnet.runtime.invariants.replication`);
- every acknowledged version is still in its tree (on a branch from one of the tips), and every
  member of each tree's VersionManager group holds the same tree;
- every acknowledged message reached its recipient: pushed to it, or held for it.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import trio

from vaultnet import wire
from vaultnet.client.maid import ClientError, MaidClient
from vaultnet.client.mpid import MpidClient
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.runtime import invariants
from vaultnet.runtime.testnet import NotSettled, Testnet, TestnetError
from vaultnet.transport.clock import virtual_clock
from vaultnet.xor import Name, name_of

SETTLE = 300.0
"""Simulated seconds the network gets, after the last step and the heal, to settle."""
CHECK_EVERY = 0.5
"""Simulated seconds between invariant checks while settling."""
FAULT_SHARE = 0.35
"""Share of steps that are faults (when any fault kind is enabled)."""
LOSS = 0.02
"""Drop (or duplicate) probability per frame during a lossy spell."""
SPELL = 2.0
"""Simulated seconds a partition or a lossy spell lasts before it heals."""
OP_TIMEOUT = 60.0
"""Simulated seconds one operation may take before it counts as unanswered."""
MAX_SHRINK_RUNS = 200
"""Runs a shrink may spend: it stops with the smallest failing scenario found so far."""


class StepKind(enum.StrEnum):
    """What one step of a scenario does."""

    PUT = "put"
    GET = "get"
    DELETE = "delete"
    VERSION = "version"
    MESSAGE = "message"
    KILL = "kill"
    ADD = "add"
    RESTART = "restart"
    LIE = "lie"
    LOSE = "lose"
    PARTITION = "partition"
    DROP = "drop"
    DUPLICATE = "duplicate"


OPERATIONS = (StepKind.PUT, StepKind.PUT, StepKind.GET, StepKind.DELETE, StepKind.VERSION,
              StepKind.MESSAGE)
"""The workload's operations, puts weighted double: a version puts the next version of one of
VERSION_TREES trees, a message goes from one MPID of the workload to the other."""
VERSION_TREES = 2
"""Version trees a workload writes (a step's number picks one)."""
FAULTS: dict[str, tuple[StepKind, ...]] = {
    "churn": (StepKind.KILL, StepKind.ADD),
    "restart": (StepKind.RESTART,),
    "lie": (StepKind.LIE,),
    "lose": (StepKind.LOSE,),
    "partition": (StepKind.PARTITION,),
    "drop": (StepKind.DROP,),
    "duplicate": (StepKind.DUPLICATE,),
}
"""The fault kinds a sweep can enable (`--faults`), and the steps each brings."""


class SweepError(ValueError):
    """A sweep asked for something it cannot run (an unknown fault kind, a malformed step)."""


@dataclass(frozen=True)
class Step:
    """One step: its kind and the seed-drawn number that picks its target or content."""

    kind: StepKind
    arg: int

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.arg}"


@dataclass(frozen=True)
class Scenario:
    """Everything a run depends on: the seed (network, timing), its size and its steps."""

    seed: int
    vaults: int
    steps: tuple[Step, ...]

    def command(self) -> str:
        """The command line that runs exactly this scenario again."""
        return (f"vaultnet sim --seed {self.seed} --vaults {self.vaults} "
                f"--steps {','.join(map(str, self.steps)) or 'none'}")


@dataclass(frozen=True)
class Failure:
    """An invariant that did not hold at the end of a run, and what was wrong."""

    invariant: str
    detail: str


@dataclass
class Outcome:
    """What one run did: its failure (None: every invariant held) and its trace's digest."""

    failure: Failure | None
    trace: str
    acknowledged: int = 0
    refused: int = 0


def parse_faults(text: str) -> tuple[str, ...]:
    """`churn,drop,...` (or `all`, or `none`) as fault kinds; SweepError names a bad one."""
    if text in ("", "none"):
        return ()
    if text == "all":
        return tuple(FAULTS)
    kinds = tuple(k.strip() for k in text.split(","))
    unknown = [k for k in kinds if k not in FAULTS]
    if unknown:
        raise SweepError(f"unknown fault kind {unknown[0]!r} (choose from "
                         f"{', '.join(FAULTS)}, or all)")
    return kinds


def parse_steps(text: str) -> tuple[Step, ...]:
    """`put:12,kill:3` as steps (`none`: no steps); SweepError says what is malformed."""
    if text == "none":
        return ()
    steps = []
    for item in text.split(","):
        kind, _, arg = item.partition(":")
        try:
            steps.append(Step(StepKind(kind), int(arg)))
        except ValueError:
            raise SweepError(f"malformed step {item!r} (KIND:NUMBER, e.g. put:7)") from None
    return tuple(steps)


def generate(seed: int, vaults: int, ops: int, faults: Iterable[str]) -> Scenario:
    """The scenario a seed gives: `ops` steps, about FAULT_SHARE of them faults of the
    enabled kinds."""
    rng = random.Random(seed)
    fault_steps = [kind for name in faults for kind in FAULTS[name]]
    steps = []
    for _ in range(ops):
        pool = fault_steps if fault_steps and rng.random() < FAULT_SHARE else OPERATIONS
        steps.append(Step(rng.choice(pool), rng.randrange(1 << 30)))
    return Scenario(seed, vaults, tuple(steps))


def run(scenario: Scenario, settle: float = SETTLE) -> Outcome:
    """Run `scenario` on the simulator under a virtual clock and check the invariants, giving
    the network `settle` simulated seconds after the last step to heal."""
    outcome: Outcome = trio.run(_run, scenario, settle,
                                clock=virtual_clock())
    return outcome


def shrink(scenario: Scenario, failure: Failure, settle: float = SETTLE,
           progress: Callable[[Scenario], None] | None = None) -> Scenario:
    """A sub-scenario that fails the same invariant, as short as delta debugging finds within
    MAX_SHRINK_RUNS runs: drop halves, then quarters, ... then single steps, keeping any
    removal after which the run still fails the same way."""
    runs = 0
    steps = list(scenario.steps)
    chunk = max(1, len(steps) // 2)
    while chunk >= 1 and runs < MAX_SHRINK_RUNS:
        removed = False
        start = 0
        while start < len(steps) and runs < MAX_SHRINK_RUNS:
            candidate = Scenario(scenario.seed, scenario.vaults,
                                 tuple(steps[:start] + steps[start + chunk:]))
            runs += 1
            result = run(candidate, settle).failure
            if result is not None and result.invariant == failure.invariant:
                steps = list(candidate.steps)
                removed = True
                if progress is not None:
                    progress(candidate)
            else:
                start += chunk
        if not removed:
            chunk //= 2
    return Scenario(scenario.seed, scenario.vaults, tuple(steps))


@dataclass
class _State:
    """What the workload has done so far: acknowledged chunks and who holds the data."""

    client: MaidClient
    acknowledged: dict[Name, bytes] = field(default_factory=dict)
    deleted: set[Name] = field(default_factory=set)
    faulted: set[Name] = field(default_factory=set)
    versions: dict[Name, list[VersionName]] = field(default_factory=dict)
    """Acknowledged versions per tree key, in the order they were put."""
    mpids: tuple[MpidClient, MpidClient] | None = None
    """The workload's sender and recipient, connected at its first message."""
    messages: list[bytes] = field(default_factory=list)
    """Bodies of the messages whose send was acknowledged."""
    refused: int = 0

    def live(self) -> list[Name]:
        """Acknowledged chunks not deleted since, in the order they were put."""
        return [name for name in self.acknowledged if name not in self.deleted]


async def _run(scenario: Scenario, settle: float) -> Outcome:
    digest = hashlib.sha256()

    def trace(event: ev.Event) -> None:
        digest.update(wire.pack(event.to_record()))

    try:
        async with Testnet(vaults=scenario.vaults, transport="sim", seed=scenario.seed) as net:
            net.bus.add_sink(trace)
            state = _State(await net.client())
            for step in scenario.steps:
                await _apply(net, state, step)
            failure = await _settle_and_check(net, state, settle)
            return Outcome(failure, digest.hexdigest(), len(state.acknowledged), state.refused)
    except NotSettled as exc:  # the network could not even start or take a step
        return Outcome(Failure("runs", str(exc)), digest.hexdigest())


async def _apply(net: Testnet, state: _State, step: Step) -> None:
    """Carry out one step; a refused or unanswered operation is counted, not a failure."""
    kind, arg = step.kind, step.arg
    live = state.live()
    try:
        with trio.fail_after(OP_TIMEOUT):
            if kind is StepKind.PUT:
                data = random.Random(arg).randbytes(256 + arg % 2048)
                name = await state.client.put(data)
                state.acknowledged[name] = data
                state.deleted.discard(name)
            elif kind is StepKind.GET and live:
                await state.client.get(live[arg % len(live)])
            elif kind is StepKind.DELETE and live:
                name = live[arg % len(live)]
                await state.client.delete(name)
                state.deleted.add(name)
            elif kind is StepKind.VERSION:
                key = name_of(b"sweep tree %d" % (arg % VERSION_TREES))
                chain = state.versions.setdefault(key, [])
                parent = chain[-1] if chain else None
                version = VersionName(0 if parent is None else parent.index + 1,
                                      name_of(b"sweep version %d" % arg))
                await state.client.put_version(key, parent, version)
                chain.append(version)
            elif kind is StepKind.MESSAGE:
                if state.mpids is None:
                    state.mpids = (await net.mpid_client(), await net.mpid_client())
                body = b"sweep message %d" % arg
                await state.mpids[0].send(state.mpids[1].name, body)
                state.messages.append(body)
            else:
                await _fault(net, state, kind, arg)
    except (ClientError, TestnetError, trio.TooSlowError):
        state.refused += 1


async def _fault(net: Testnet, state: _State, kind: StepKind, arg: int) -> None:
    """One fault step. Kills keep at least twice the group size of vaults running; lie and
    lose strike one vault each at most a third of the network, so data can survive them."""
    names = sorted(v.name for v in net.vaults)
    if not names:
        return
    target = names[arg % len(names)]
    minimum = 2 * net.params.group_size
    if kind is StepKind.KILL and len(names) > minimum:
        await net.kill_vault(target)
    elif kind is StepKind.ADD:
        await net.add_vault()
    elif kind is StepKind.RESTART:
        await net.restart_vault(target)
    elif kind in (StepKind.LIE, StepKind.LOSE) and len(state.faulted) < len(names) // 3:
        net.fault(target, kind.value)
        state.faulted.add(target)
    elif kind is StepKind.PARTITION:
        net.fault(target, "partition")
        await trio.sleep(SPELL)
        net.fault(target, "heal")
    elif kind in (StepKind.DROP, StepKind.DUPLICATE) and net.sim is not None:
        net.sim.set_loss(LOSS if kind is StepKind.DROP else 0.0,
                         LOSS if kind is StepKind.DUPLICATE else 0.0)
        await trio.sleep(SPELL)
        net.sim.set_loss(0.0, 0.0)


async def _settle_and_check(net: Testnet, state: _State, settle: float) -> Failure | None:
    """Heal what can heal, let the network settle, then check the invariants."""
    if net.sim is not None:
        net.sim.set_loss(0.0, 0.0)
    live = state.live()
    try:
        await net.wait_for(net.converged, settle, "routing convergence", every=CHECK_EVERY)
        await net.wait_replicated(live, settle, every=CHECK_EVERY)
    except NotSettled:
        problems = invariants.replication(net, live)
        return Failure("replication" if problems else "convergence",
                       invariants.describe(problems, 3) or "routing tables did not converge")
    reader = await net.client()
    for name in live:
        try:
            with trio.fail_after(OP_TIMEOUT):
                data = await reader.get(name)
        except (ClientError, trio.TooSlowError) as exc:
            return Failure("acknowledged-lost", f"{name.hex()[:16]}: {exc}")
        if data != state.acknowledged[name]:
            return Failure("acknowledged-lost", f"{name.hex()[:16]}: wrong content")
    return await _versions_kept(net, state, reader, settle) or await _messages_reached(net, state)


async def _versions_kept(net: Testnet, state: _State, reader: MaidClient,
                         settle: float) -> Failure | None:
    """Every acknowledged version is on a branch from one of its tree's tips, and each tree's
    group holds it alike (once settled)."""
    try:
        await net.wait_for(lambda: not invariants.version_trees(net), settle,
                           "version trees agree", every=CHECK_EVERY)
    except NotSettled:
        return Failure("versions", invariants.describe(invariants.version_trees(net), 3))
    for key, chain in state.versions.items():
        if not chain:
            continue
        kept: set[VersionName] = set()
        try:
            with trio.fail_after(OP_TIMEOUT):
                for tip in await reader.get_versions(key):
                    kept.update(await reader.get_branch(key, tip))
        except (ClientError, trio.TooSlowError) as exc:
            return Failure("acknowledged-lost", f"version tree {key.hex()[:16]}: {exc}")
        missing = [v for v in chain if v not in kept]
        if missing:
            return Failure("acknowledged-lost", f"version tree {key.hex()[:16]}: "
                                                f"{len(missing)} acknowledged versions missing")
    return None


async def _messages_reached(net: Testnet, state: _State) -> Failure | None:
    """Every acknowledged message was pushed to the recipient or is held for it (asked by the
    recipient connecting again, as its first connection's vault may have gone)."""
    if state.mpids is None or not state.messages:
        return None
    first = state.mpids[1]
    got = {m.body for m in first.received_nowait()}
    try:
        with trio.fail_after(OP_TIMEOUT):
            again = await net.mpid_client(identity=first.identity)
            got.update(m.body for m in await again.inbox())
    except (ClientError, trio.TooSlowError) as exc:
        return Failure("acknowledged-lost", f"messages: the recipient cannot read them: {exc}")
    got.update(m.body for m in again.received_nowait())
    missing = [body for body in state.messages if body not in got]
    if missing:
        return Failure("acknowledged-lost", f"messages: {len(missing)} acknowledged of "
                                            f"{len(state.messages)} never reached the recipient")
    return None


def sweep(seeds: Sequence[int], vaults: int, ops: int, faults: Iterable[str],
          settle: float = SETTLE,
          on_result: Callable[[Scenario, Outcome], None] | None = None
          ) -> list[tuple[Scenario, Failure]]:
    """Run one generated scenario per seed; the failing ones, in seed order."""
    kinds = tuple(faults)
    failures = []
    for seed in seeds:
        scenario = generate(seed, vaults, ops, kinds)
        outcome = run(scenario, settle)
        if on_result is not None:
            on_result(scenario, outcome)
        if outcome.failure is not None:
            failures.append((scenario, outcome.failure))
    return failures
