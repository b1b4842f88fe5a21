"""`vaultnet bench data --processes 2`: the figures of a round count every process's vaults, not
only the launcher's share, and the rows say how many processes ran. Functional only: nothing
about speed is asserted."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import pytest
import trio
import trio.testing

from vaultnet.bench import data
from vaultnet.runtime.vault import Vault
from vaultnet.runtime.worker_pool import process_totals

PUTS = 4


async def test_a_bench_over_two_processes_counts_the_worker_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    own: list[float] = []

    def launcher_totals(vaults: Iterable[Vault]) -> dict[str, float]:
        totals = process_totals(vaults)
        own.append(totals["messages"])
        return totals

    monkeypatch.setattr(data, "process_totals", launcher_totals)
    [row] = await data.run(vaults=8, count=PUTS, sizes=["1KiB"], in_flights=[1], processes=2)

    # The round reads the totals before the puts, after them, and after the settle.
    assert len(own) == 3
    launcher_only = (own[2] - own[0]) / PUTS
    assert row["processes"] == 2 and row["n"] == PUTS and row["failed"] == 0
    assert isinstance(row["msgs/put"], float) and isinstance(row["frames/put"], float)
    assert row["msgs/put"] > launcher_only > 0, "the worker's vaults are counted too"
    assert row["frames/put"] > 0
    assert row["put max ms"] >= row["put p99 ms"] >= row["put p50 ms"] > 0
    assert isinstance(row["cpu us/msg"], float) and row["cpu us/msg"] > 0


def test_the_simulated_bench_does_the_same_work_every_run() -> None:
    """`--transport sim`: two runs of one seed put the same chunks on the same network, so
    their messages and frames per put are equal, and another seed's differ."""

    def sim_row(seed: int) -> dict[str, object]:
        [row] = trio.run(partial(data.run, vaults=8, count=PUTS, sizes=["1KiB"], in_flights=[2],
                                 seed=seed), clock=trio.testing.MockClock(autojump_threshold=0))
        assert row["transport"] == "sim" and row["failed"] == 0
        return row

    first, again, other = sim_row(5), sim_row(5), sim_row(6)
    work = ("msgs/put", "frames/put")
    assert [first[k] for k in work] == [again[k] for k in work]
    assert [first[k] for k in work] != [other[k] for k in work]
    assert isinstance(first["msgs/put"], float) and first["msgs/put"] > 0


@pytest.mark.parametrize(("flags", "says"), [
    (["--transport", "sim", "--processes", "2"], "--transport sim runs in one process"),
    (["--seed", "3"], "give it with --transport sim"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_a_wrong_flag_is_one_line(flags: list[str], says: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        data.main(flags)
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("vaultnet: error: ") and says in line
