"""The pytest plugin: a running vaultnet for each test that asks for one, reproducible by seed.

Loaded through the `pytest11` entry point `vaultnet` (or `-p vaultnet.testing.pytest_plugin`
when vaultnet is not installed). Fixtures: `testnet` (one network for the test), and
`testnet_factory` (start more inside the test). Marker: `@pytest.mark.testnet(vaults=,
transport=, seed=, capacity=, processes=)`. Options: `--vaultnet-seed`,
`--vaultnet-transport` (win over the marker, so a failure's printed command reproduces it) and
`--vaultnet-trace-events`.

A project's own fixture named `testnet` or `testnet_factory` (in a conftest or test module)
wins over these by pytest's usual rules; the plugin then adds nothing to those tests.
"""

from __future__ import annotations

import inspect
import os
import shlex
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import trio

from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import TRANSPORTS, Testnet
from vaultnet.testing.settings import (
    MARKER_ARGUMENTS,
    TestnetFactory,
    TestnetSettings,
    marker_transport,
    settings_from,
)
from vaultnet.transport.clock import virtual_clock

ENTRY_POINT = "vaultnet"
"""The plugin's name in the `pytest11` entry-point group."""
MODULE = "vaultnet.testing.pytest_plugin"
TRACE_EVENTS = 50_000
"""Events kept per network for a failure's trace file (the newest; older ones are dropped):
at most about 30 MB a network (some 580 bytes an event, measured on 8 vaults doing puts and
gets), held from the test's setup until its teardown report, then freed."""
SECTION = "vaultnet"
MARKER_HELP = (f"testnet({', '.join(f'{a}=...' for a in MARKER_ARGUMENTS)}): the network the "
               "vaultnet `testnet` / `testnet_factory` fixtures start for this test "
               "(defaults: vaults=8, transport='sim', a random seed)")


# -- one test's networks and what a failure report says about them ------------------------------

@dataclass(slots=True)
class _Tail:
    """The newest events of one network, bounded (a deque of at most `limit` events)."""

    label: str
    settings: TestnetSettings
    events: deque[ev.Event]
    seen: int = 0

    def __call__(self, event: ev.Event) -> None:
        self.seen += 1
        self.events.append(event)


@dataclass(slots=True)
class _TestRecord:
    """What one test ran on; kept in the item's stash until its report is made."""

    settings: TestnetSettings
    tmp_path: Path
    trace_events: int
    tails: list[_Tail] = field(default_factory=list)
    started: int = 0
    written: dict[str, Path] = field(default_factory=dict)

    def watch(self, net: Testnet, label: str, settings: TestnetSettings) -> None:
        """Keep `net`'s newest events in memory from before its first vault starts."""
        tail = _Tail(label, settings, deque(maxlen=self.trace_events))
        self.tails.append(tail)
        if self.trace_events > 0:
            net.bus.add_sink(tail)

    def write_traces(self) -> None:
        """Write each network's kept events as a trace file (once, on the first failure)."""
        for tail in self.tails:
            if tail.label in self.written or not tail.events:
                continue
            path = self.tmp_path / f"{tail.label}.trace"
            with path.open("wb") as out:
                recorder = ev.TraceRecorder(out)
                for event in tail.events:
                    recorder(event)
            self.written[tail.label] = path


RECORD = pytest.StashKey[_TestRecord]()


def _describe(settings: TestnetSettings) -> str:
    origin = {"option": "from --vaultnet-seed", "marker": "from the marker",
              "random": "chosen at random", "derived": "the test's seed + its number",
              "code": "given by the test"}[settings.seed_origin]
    return (f"seed {settings.seed} ({origin}), transport {settings.transport}, "
            f"{settings.vaults} vaults")


def reproduce_command(item: pytest.Item, settings: TestnetSettings) -> str:
    """The one command that runs this test again on the same seed and transport."""
    config = item.config
    target = os.path.relpath(item.path, config.invocation_params.dir)
    if "::" in item.nodeid:
        target += "::" + item.nodeid.split("::", 1)[1]
    words = ["pytest", target, "--vaultnet-seed", str(settings.seed),
             "--vaultnet-transport", settings.transport]
    if config.pluginmanager.get_plugin(ENTRY_POINT) is None:  # loaded by -p, not installed
        words += ["-p", MODULE]
    return shlex.join(words)


def failure_section(item: pytest.Item, record: _TestRecord) -> str:
    """The report section of a failed test: seed, transport, command, trace files."""
    lines = [f"testnet: {_describe(record.settings)}",
             f"reproduce: {reproduce_command(item, record.settings)}"]
    for tail in record.tails:
        if tail.label != "testnet":
            lines.append(f"{tail.label}: {_describe(tail.settings)}")
        path = record.written.get(tail.label)
        if path is not None:
            kept = len(tail.events)
            which = "all" if kept == tail.seen else f"the last {kept} of"
            lines.append(f"{tail.label} trace: {path} ({which} {tail.seen} events; "
                         f"vaultnet.runtime.events.read_trace reads it)")
    return "\n".join(lines)


# -- hooks ----------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    """The options that reproduce a run: they override every test's marker and defaults."""
    group = parser.getgroup("vaultnet", "vaultnet test networks")
    group.addoption("--vaultnet-seed", type=int, default=None, metavar="N",
                    help="seed every vaultnet test network with N (overrides the marker; "
                         "default: a random seed per test, printed when it fails)")
    group.addoption("--vaultnet-transport", choices=TRANSPORTS, default=None,
                    help="run every vaultnet test network on this transport (overrides the "
                         "marker; default: the marker's, else sim)")
    group.addoption("--vaultnet-trace-events", type=int, default=TRACE_EVENTS, metavar="N",
                    help="keep each test network's newest N events in memory and write them "
                         f"to a trace file when the test fails (0: none; default {TRACE_EVENTS})")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so `--strict-markers` accepts it."""
    config.addinivalue_line("markers", MARKER_HELP)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say on the first lines when every network's seed or transport is forced."""
    seed = config.getoption("vaultnet_seed")
    transport = config.getoption("vaultnet_transport")
    if seed is None and transport is None:
        return []
    return [f"vaultnet: seed {seed if seed is not None else 'per test'}, transport "
            f"{transport or 'per test'} (from the command line)"]


def run_on_autojump_clock(fn: Callable[[], Awaitable[object]], *,
                          clock: trio.abc.Clock | None = None,
                          instruments: Sequence[trio.abc.Instrument] = ()) -> object:
    """pytest-trio's `run` for simulator tests: trio.run on an autojump MockClock unless the test
    asked for a clock of its own (simulated seconds then cost no wall time)."""
    return trio.run(fn, clock=clock if clock is not None else virtual_clock(),
                    instruments=instruments)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the async tests that use these fixtures under trio (also without `trio_mode`), and
    those on the simulator under the autojump clock: pytest-trio only passes a clock it finds
    among the test's own arguments, so it is given a runner that supplies one."""
    option = config.getoption("vaultnet_transport")
    for item in items:
        if not isinstance(item, pytest.Function) or "vaultnet_settings" not in item.fixturenames:
            continue
        if not inspect.iscoroutinefunction(item.obj):
            continue
        marks = list(item.iter_markers("trio"))
        runs = [m.kwargs["run"] for m in marks if m.kwargs.get("run") is not None]
        if runs and runs[0] is not trio.run:
            continue  # the test's own runner (qtrio, ...): its clock is its business
        marker = item.get_closest_marker("testnet")
        if marker_transport(marker.kwargs if marker else None, option) == "sim":
            item.add_marker(pytest.mark.trio(run=run_on_autojump_clock), append=False)
        elif not marks:
            item.add_marker(pytest.mark.trio)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A failed test that ran a network gets a section naming its seed, transport, the command
    that reproduces it and its trace files."""
    report = yield
    record = item.stash.get(RECORD, None)
    if record is not None and call.when == "teardown":
        del item.stash[RECORD]  # items live all session: free the events with the last report
    if record is None or not report.failed:
        return report
    try:
        record.write_traces()
    except OSError as exc:  # a full disk must not hide the failure itself
        record.tails = [t for t in record.tails if t.label in record.written]
        report.sections.append((SECTION, f"trace files not written: {exc}"))
    text = failure_section(item, record)
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        longrepr.addsection(SECTION, text)
    else:
        report.sections.append((SECTION, text))
    return report


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture
def vaultnet_settings(request: pytest.FixtureRequest, tmp_path: Path) -> TestnetSettings:
    """This test's network settings (marker, options, seed), recorded for its failure report."""
    marker = request.node.get_closest_marker("testnet")
    config = request.config
    settings = settings_from(marker.args if marker else (), marker.kwargs if marker else None,
                             option_seed=config.getoption("vaultnet_seed"),
                             option_transport=config.getoption("vaultnet_transport"))
    request.node.stash[RECORD] = _TestRecord(settings, tmp_path,
                                             max(0, config.getoption("vaultnet_trace_events")))
    return settings


@pytest.fixture
async def testnet(vaultnet_settings: TestnetSettings,
                  request: pytest.FixtureRequest) -> AsyncIterator[Testnet]:
    """A running, settled network for one test (default 8 vaults on the simulator), closed when
    the test ends however it ends."""
    net = vaultnet_settings.testnet()
    request.node.stash[RECORD].watch(net, "testnet", vaultnet_settings)
    async with net:
        yield net


async def _serve(net: Testnet, *, task_status: trio.TaskStatus[Testnet]) -> None:
    async with net:
        task_status.started(net)
        await trio.sleep_forever()


@pytest.fixture
async def testnet_factory(vaultnet_settings: TestnetSettings,
                          request: pytest.FixtureRequest) -> AsyncIterator[TestnetFactory]:
    """Start further networks inside a test; they run in this fixture's nursery (a network's
    nursery must close in the task that opened it) and are all closed at teardown."""
    record = request.node.stash[RECORD]

    async with trio.open_nursery() as nursery:
        async def start(*, vaults: int | None = None, transport: str | None = None,
                        seed: int | None = None, capacity: int | None = None,
                        **testnet_kwargs: Any) -> Testnet:
            record.started += 1
            base = record.settings
            settings = base.replace(
                vaults=base.vaults if vaults is None else vaults,
                transport=base.transport if transport is None else transport,
                seed=base.seed + record.started if seed is None else seed,
                seed_origin="derived" if seed is None else "code",
                capacity=base.capacity if capacity is None else capacity)
            net = settings.testnet(**testnet_kwargs)
            record.watch(net, f"factory-{record.started}", settings)
            return cast(Testnet, await nursery.start(_serve, net))

        yield start
        nursery.cancel_scope.cancel()
