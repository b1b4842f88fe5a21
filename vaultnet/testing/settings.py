"""What a test's networks are made of: the `testnet` marker's arguments and the command-line
options resolved into one record, with no pytest import (so the rules can be tested and reused
without the plugin)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from vaultnet.runtime.host import DEFAULT_CAPACITY
from vaultnet.runtime.testnet import TRANSPORTS, Testnet, TestnetError

DEFAULT_VAULTS = 8
DEFAULT_TRANSPORT = "sim"
MARKER_ARGUMENTS = ("vaults", "transport", "seed", "capacity", "processes")
SEED_LIMIT = 2**32
"""Random seeds are drawn below this: short enough to copy from a report."""

SeedOrigin = Literal["option", "marker", "random", "derived", "code"]
"""Where a seed came from: a command-line option, the marker, chosen at random, derived from
the test's seed (a factory network), or given by the test's code."""


class TestnetMarkerError(TestnetError):
    """`@pytest.mark.testnet(...)` or a `--vaultnet-*` option asked for something the plugin
    cannot build, named in the message (a typo there must not silently run the defaults)."""

    __test__ = False


@dataclass(frozen=True, slots=True)
class TestnetSettings:
    """The network one test runs on, and where its seed came from (so a failure report can say
    how to get the same network again)."""

    __test__ = False

    vaults: int = DEFAULT_VAULTS
    transport: str = DEFAULT_TRANSPORT
    seed: int = 0
    capacity: int = DEFAULT_CAPACITY
    seed_origin: SeedOrigin = "random"
    processes: int = 1
    """Processes the vaults run in (more than one: TCP only; `vaultnet.Testnet`'s `processes`)."""

    def replace(self, **changes: Any) -> TestnetSettings:
        """A copy with some fields changed (a factory network's own vaults, seed, ...)."""
        return dataclasses.replace(self, **changes)

    def testnet(self, **testnet_kwargs: Any) -> Testnet:
        """The (not yet started) network these settings describe; one place for both
        fixtures, so a setting cannot reach one of them and not the other."""
        testnet_kwargs.setdefault("processes", self.processes)
        return Testnet(vaults=self.vaults, transport=self.transport, seed=self.seed,
                       capacity=self.capacity, **testnet_kwargs)


class TestnetFactory(Protocol):
    """The `testnet_factory` fixture: starts one more running network inside the test; every
    network it started is closed when the test ends. Arguments left out come from the test's
    settings; a left-out seed is the test's seed plus the network's number (1, 2, ...), so a
    reproduced test gets the same networks. Other keywords go to `vaultnet.Testnet`."""

    async def __call__(self, *, vaults: int | None = None, transport: str | None = None,
                       seed: int | None = None, capacity: int | None = None,
                       **testnet_kwargs: Any) -> Testnet:
        """Start one more network, closed when the test ends (see the class docstring)."""
        ...


def _check_int(name: str, value: object, minimum: int,
               source: str = "@pytest.mark.testnet") -> int:
    """`value` as an int of at least `minimum`, or a TestnetMarkerError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TestnetMarkerError(f"{source}: {name} must be an int >= {minimum}, "
                                 f"not {value!r}")
    return value


def _check_transport(value: object, source: str) -> str:
    if value not in TRANSPORTS:
        raise TestnetMarkerError(f"{source}: transport must be one of "
                                 f"{', '.join(repr(t) for t in TRANSPORTS)}, not {value!r}")
    assert isinstance(value, str)
    return value


def marker_transport(marker_kwargs: Mapping[str, object] | None,
                     option_transport: str | None) -> str:
    """The transport a test will run on, without validating anything else (collection uses it
    to choose the clock; the fixture reports any bad argument)."""
    if option_transport in TRANSPORTS:
        assert option_transport is not None
        return option_transport
    value = (marker_kwargs or {}).get("transport", DEFAULT_TRANSPORT)
    return value if isinstance(value, str) and value in TRANSPORTS else DEFAULT_TRANSPORT


def settings_from(marker_args: Sequence[object] = (),
                  marker_kwargs: Mapping[str, object] | None = None,
                  option_seed: int | None = None, option_transport: str | None = None,
                  random_seed: int | None = None) -> TestnetSettings:
    """Resolve one test's settings: the command-line options win over the marker (so the
    command printed in a failure report reproduces the run whatever the test file says), the
    marker over the defaults; with no seed from either, `random_seed` or a fresh random one."""
    kwargs = dict(marker_kwargs or {})
    if marker_args:
        raise TestnetMarkerError(f"@pytest.mark.testnet takes keyword arguments only "
                                 f"({', '.join(MARKER_ARGUMENTS)}), got positional "
                                 f"{tuple(marker_args)!r}")
    unknown = sorted(set(kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        raise TestnetMarkerError(f"@pytest.mark.testnet got unknown argument"
                                 f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                                 f"(it accepts {', '.join(MARKER_ARGUMENTS)})")
    vaults = _check_int("vaults", kwargs.get("vaults", DEFAULT_VAULTS), 1)
    capacity = _check_int("capacity", kwargs.get("capacity", DEFAULT_CAPACITY), 1)
    transport = _check_transport(kwargs.get("transport", DEFAULT_TRANSPORT),
                                 "@pytest.mark.testnet")
    if option_transport is not None:
        transport = _check_transport(option_transport, "--vaultnet-transport")
    processes = _check_int("processes", kwargs.get("processes", 1), 1)
    if processes > 1 and transport != "tcp":
        raise TestnetMarkerError(f"@pytest.mark.testnet: processes={processes} needs "
                                 f"transport='tcp' (vaults in several processes talk TCP), "
                                 f"not {transport!r}")
    origin: SeedOrigin
    if option_seed is not None:
        seed, origin = _check_int("the seed", option_seed, 0, "--vaultnet-seed"), "option"
    elif kwargs.get("seed") is not None:
        seed, origin = _check_int("seed", kwargs["seed"], 0), "marker"
    else:
        seed = random_seed if random_seed is not None else secrets.randbelow(SEED_LIMIT)
        origin = "random"
    return TestnetSettings(vaults=vaults, transport=transport, seed=seed, capacity=capacity,
                           seed_origin=origin, processes=processes)
