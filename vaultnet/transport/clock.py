"""The network clock: what a message's `sent_at` and a request's age are measured in.

It reads trio's clock, so it lives with the I/O layers (the transport and above); the sans-IO
personas get the time from their `Context` instead.
"""

from __future__ import annotations

import time

import trio

_CLOCK_OFFSET: trio.lowlevel.RunVar[float] = trio.lowlevel.RunVar("vaultnet_clock_offset")


def network_time() -> float:
    """Seconds since the epoch as this trio run sees them: the wall clock when the run first
    asks, then advancing with trio's clock. Separate processes agree (both follow the wall
    clock), and under a MockClock simulated seconds move it, so a request's age is testable
    without waiting."""
    try:
        offset = _CLOCK_OFFSET.get()
    except LookupError:
        offset = time.time() - trio.current_time()
        _CLOCK_OFFSET.set(offset)
    return trio.current_time() + offset


def virtual_clock(rate: float | None = None) -> trio.abc.Clock:
    """trio's MockClock for a simulated run: autojumping (simulated seconds cost no wall time)
    unless `rate` says how fast it follows the wall clock. `trio.testing` is imported here, on
    first use, not with the module: it imports pytest, 0.2 s of import time (`python -X
    importtime`) that every `vaultnet` command paid as it started."""
    import trio.testing

    if rate is None:
        return trio.testing.MockClock(autojump_threshold=0)
    return trio.testing.MockClock(rate=rate)
