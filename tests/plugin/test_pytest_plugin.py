"""The pytest plugin (vaultnet.testing): user test files run by pytester, in this process."""

from __future__ import annotations

import re
import shlex
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from vaultnet.runtime.events import read_trace
from vaultnet.testing import TestnetMarkerError, settings_from

pytest_plugins = ["pytester"]

INSTALLED = any(ep.name == "vaultnet" for ep in entry_points(group="pytest11"))
# an installed vaultnet loads the plugin by its entry point; a source tree needs -p
PLUGIN = [] if INSTALLED else ["-p", "vaultnet.testing.pytest_plugin"]
TRIO_MODE = "[pytest]\ntrio_mode = true\n"
# the inline runs share this process: no cache, no workers, and no textual-snapshot (its session
# end removes a directory that belongs to the enclosing session)
ISOLATED = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:textual-snapshot"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *ISOLATED, *args)


def test_the_default_network_is_8_vaults_on_the_simulator_under_autojump(
        pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile("""
        import trio, trio.testing

        async def test_put_and_get(testnet):
            assert len(testnet.vaults) == 8 and testnet.transport == "sim"
            assert isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock)
            client = await testnet.client()
            name = await client.put(b"a chunk of my own")
            assert await client.get(name) == b"a chunk of my own"
    """)
    run(pytester).assert_outcomes(passed=1)


def test_the_marker_sets_vaults_seed_and_capacity_with_an_explicit_trio_mark(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.trio
        @pytest.mark.testnet(vaults=4, seed=7, capacity=1 << 20)
        async def test_marked(testnet):
            assert (len(testnet.vaults), testnet.seed, testnet.capacity) == (4, 7, 1 << 20)
    """)
    run(pytester, "--strict-markers").assert_outcomes(passed=1)


def test_an_async_test_without_trio_mode_or_mark_still_runs_under_trio(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.testnet(vaults=3, seed=1)
        async def test_unmarked(testnet):
            assert len(testnet.vaults) == 3
    """)
    run(pytester).assert_outcomes(passed=1)


def test_the_factory_starts_networks_with_derived_seeds_and_closes_them(
        pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile("""
        import pytest

        started = []

        @pytest.mark.testnet(vaults=3, seed=40)
        async def test_factory(testnet, testnet_factory):
            first = await testnet_factory()
            second = await testnet_factory(vaults=4, seed=5)
            started.extend([testnet, first, second])
            assert (first.seed, len(first.vaults)) == (41, 3)
            assert (second.seed, len(second.vaults)) == (5, 4)
            client = await second.client()
            assert await client.get(await client.put(b"x")) == b"x"

        def test_all_closed_at_teardown():
            assert len(started) == 3
            assert not any(net.data_dir.exists() for net in started)
    """)
    run(pytester).assert_outcomes(passed=2)


def test_the_command_line_options_win_over_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.testnet(vaults=3, seed=7, transport="sim")
        async def test_overridden(testnet):
            assert (testnet.seed, testnet.transport, len(testnet.vaults)) == (99, "tcp", 3)
    """)
    result = run(pytester, "--vaultnet-seed", "99", "--vaultnet-transport", "tcp")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["vaultnet: seed 99, transport tcp (from the command line)"])


def test_a_failure_names_its_seed_and_the_command_reproduces_it(
        pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile(test_flaky="""
        seen = []

        async def test_fails(testnet):
            seen.append(testnet)
            print(f"seed seen: {testnet.seed}")
            assert testnet.seed < 0

        def test_the_failed_network_was_closed():
            assert len(seen) == 1 and not seen[0].data_dir.exists()
    """)
    first = run(pytester)
    first.assert_outcomes(failed=1, passed=1)
    out = first.stdout.str()
    seen = re.search(r"seed seen: (\d+)", out)
    assert seen is not None
    seed = seen.group(1)
    first.stdout.fnmatch_lines([
        "*- vaultnet -*",
        f"testnet: seed {seed} (chosen at random), transport sim, 8 vaults",
        f"reproduce: pytest test_flaky.py::test_fails --vaultnet-seed {seed} "
        "--vaultnet-transport sim*",
    ])
    trace = re.search(r"testnet trace: (\S+) \(all (\d+) events", out)
    assert trace is not None
    assert len(read_trace(Path(trace.group(1)))) == int(trace.group(2)) > 0

    command = re.search(r"reproduce: (.*)", out)
    assert command is not None
    words = shlex.split(command.group(1))
    assert words[0] == "pytest"
    again = pytester.runpytest(*ISOLATED, *words[1:])
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines([f"testnet: seed {seed} (from --vaultnet-seed)*",
                                f"seed seen: {seed}"])


def test_an_unknown_marker_argument_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.testnet(vault=4)
        async def test_typo(testnet):
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*TestnetMarkerError: @pytest.mark.testnet got unknown argument vault "
        "(it accepts vaults, transport, seed, capacity, processes)"])


def test_settings_resolve_option_over_marker_over_default() -> None:
    assert settings_from(random_seed=3) == settings_from(marker_kwargs={}, random_seed=3)
    default = settings_from(random_seed=3)
    assert (default.vaults, default.transport, default.seed, default.seed_origin) == \
        (8, "sim", 3, "random")
    marked = settings_from(marker_kwargs={"seed": 7, "transport": "tcp"})
    assert (marked.seed, marked.transport, marked.seed_origin) == (7, "tcp", "marker")
    forced = settings_from(marker_kwargs={"seed": 7, "transport": "tcp"}, option_seed=1,
                           option_transport="sim")
    assert (forced.seed, forced.transport, forced.seed_origin) == (1, "sim", "option")


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((4,), {}, "keyword arguments only"),
    ((), {"vaults": 0}, "vaults must be an int >= 1"),
    ((), {"vaults": True}, "vaults must be an int >= 1"),
    ((), {"transport": "udp"}, "transport must be one of 'tcp', 'sim', not 'udp'"),
    ((), {"seed": -1}, "seed must be an int >= 0"),
    ((), {"capacity": "1G"}, "capacity must be an int >= 1"),
])
def test_bad_marker_values_are_refused(args: tuple[object, ...], kwargs: dict[str, object],
                                       message: str) -> None:
    with pytest.raises(TestnetMarkerError, match=re.escape(message)):
        settings_from(args, kwargs)


def test_a_seed_reproduces_the_trace_and_the_trace_is_bounded(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makepyfile(test_same="""
        async def test_fails(testnet):
            client = await testnet.client()
            await client.put(b"the same every time")
            assert False
    """)
    traces = []
    for _ in range(2):
        result = run(pytester, "--vaultnet-seed", "3")
        result.assert_outcomes(failed=1)
        found = re.search(r"testnet trace: (\S+) \(all (\d+) events", result.stdout.str())
        assert found is not None
        traces.append(Path(found.group(1)).read_bytes())
    assert traces[0] == traces[1]

    capped = run(pytester, "--vaultnet-seed", "3", "--vaultnet-trace-events", "10")
    found = re.search(r"testnet trace: (\S+) \(the last 10 of (\d+) events", capped.stdout.str())
    assert found is not None
    assert len(read_trace(Path(found.group(1)))) == 10 < int(found.group(2))


def test_a_projects_own_testnet_fixture_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini(TRIO_MODE)
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def testnet():
            return "mine"
    """)
    pytester.makepyfile("""
        def test_uses_mine(testnet):
            assert testnet == "theirs"
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert "--vaultnet-seed" not in result.stdout.str()
