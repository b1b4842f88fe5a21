"""Direct delivery on the simulator: frames written from the sending task and handed by the
simulator's task straight to the receiving connection's handler (`Connection.push_frames`), on
the tick, in order, with refusals and the end of the stream closing the connection; and the
`vaultnet bench sim` boot it speeds up."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

from vaultnet.bench.sim import measure_boot
from vaultnet.identity import Identity
from vaultnet.transport.base import Connection
from vaultnet.transport.sim import SimConfig, SimNetwork
from vaultnet.wire import FrameError

LATENCY = 0.0055
TICK = 0.001


class Listener:
    """A listening sim endpoint whose connections push their frames to a list (after `delay`
    simulated seconds, so frames that came in before are queued and handed over first)."""

    def __init__(self, refuse: int | None = None, delay: float = 0.0) -> None:
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.errors: list[FrameError] = []
        self.closed = trio.Event()
        self._refuse = refuse
        self._delay = delay

    def on_frame(self, frame: dict[str, Any]) -> None:
        if frame["n"] == self._refuse:
            raise FrameError("refused")
        self.frames.append((trio.current_time(), frame))

    async def serve(self, conn: Connection) -> None:
        await trio.sleep(self._delay)
        assert conn.push_frames(self.on_frame, self.errors.append)
        await conn.wait_closed()
        self.closed.set()


async def exchange(listener: Listener, frames: int) -> list[float]:
    """Connect to `listener` over a simulator with a fixed latency, send `frames` frames one
    after another (each 0.0003 s after the last) and close; the times they were sent."""
    net = SimNetwork(3, SimConfig(min_latency=LATENCY, max_latency=LATENCY, tick=TICK))
    sent: list[float] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(net.run)
        server = net.endpoint(Identity.generate(b"s" * 32))
        address = await server.listen(nursery, listener.serve)
        conn = await net.endpoint(Identity.generate(b"c" * 32), role="client").connect(address)
        for n in range(frames):
            sent.append(trio.current_time())
            assert conn.send({"n": n})
            await trio.sleep(0.0003)
        await conn.aclose()
        await listener.closed.wait()
        nursery.cancel_scope.cancel()
    return sent


@pytest.mark.parametrize("delay", [0.0, 1.0])
async def test_frames_are_handed_over_in_order_on_the_tick(autojump_clock: Any,
                                                           delay: float) -> None:
    listener = Listener(delay=delay)
    sent = await exchange(listener, 20)
    assert [frame["n"] for _, frame in listener.frames] == list(range(20))
    assert listener.errors == []
    if delay:  # queued while nobody listened: handed over, in order, once pushing starts
        (at,) = {at for at, _ in listener.frames}
        assert at > max(sent) + LATENCY
        return
    for (at, _), was_sent in zip(listener.frames, sent, strict=True):
        assert at == pytest.approx(math.ceil((was_sent + LATENCY) / TICK) * TICK)
    assert len({round(at / TICK) for at, _ in listener.frames}) < len(sent)  # shared ticks


async def test_a_refused_frame_closes_the_connection_and_stops_delivery(
        autojump_clock: Any) -> None:
    listener = Listener(refuse=3)
    await exchange(listener, 10)
    assert [frame["n"] for _, frame in listener.frames] == [0, 1, 2]
    assert [str(exc) for exc in listener.errors] == ["refused"]


def test_the_sim_boot_bench_counts_what_a_boot_delivered() -> None:
    figures = measure_boot(4, seed=1)
    assert figures.converged and figures.vaults == 4
    assert figures.frames > 0 and figures.simulated > 0
    assert 0 < figures.stop_cpu < figures.cpu
    assert measure_boot(4, seed=1).frames == figures.frames  # the same seed, the same run
