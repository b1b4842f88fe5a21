"""The first puts after a simulated boot, end to end: no put waits for its content. A
DataManager lead that committed a new copy on its peers' votes before its own copy of the put,
with the content, arrived used to leave the holders' PmidManagers without it until they asked
again (`payload_wanted`, after PAYLOAD_WAIT, 5 s): seeds 9, 15 and 94 of 32 vaults, one of the
first 5 puts each. The mechanism is tested sans-IO in `tests/personas/test_late_content.py`."""

from __future__ import annotations

import random

import pytest

from vaultnet import Testnet
from vaultnet.protocol import Action
from vaultnet.runtime import events as ev


@pytest.mark.parametrize("seed", [9, 15, 94])
async def test_no_first_put_waits_for_its_content(autojump_clock, seed: int) -> None:
    rng = random.Random(seed)
    async with Testnet(vaults=32, transport="sim", seed=seed) as net:
        client = await net.client()
        asked: list[ev.MessageSent] = []
        net.bus.add_sink(lambda e: asked.append(e) if isinstance(e, ev.MessageSent)
                         and e.action == Action.PAYLOAD_WANTED else None)
        for _ in range(5):
            await client.put(rng.randbytes(1024))
        assert asked == [], "a recipient agreed on a put without its content and asked again"
