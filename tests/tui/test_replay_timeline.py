"""The replay timeline without Textual: a recorded seeded run, replayed and sought around,
holds at each time what the recording model held then; bad files are one clear error."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from tests.tui.recorded import Recorded, record_run, state
from tui import replay as replay_module
from tui.recording import TraceError, TraceIndex
from tui.replay import SPEEDS, Replay
from vaultnet.runtime.events import VaultUp, read_trace


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record_run(tmp_path_factory.mktemp("rec") / "run.trace")


def test_seek_forward_and_back_matches_the_live_model(recorded: Recorded) -> None:
    replay = Replay(TraceIndex.open(recorded.path))
    assert len(recorded.captures) >= 8
    order = list(range(len(recorded.captures)))
    for i in [*order, *reversed(order), 3, 0, len(order) - 1, 1]:  # forward, back, jumps
        time, records, live = recorded.captures[i]
        replay.seek(time)
        assert replay.position == records, f"capture {i} at {time}"
        assert state(replay.model) == live, f"capture {i} at {time}"
    assert replay.rebuilds > 0


def test_rebuilds_from_checkpoints_match(recorded: Recorded,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """With checkpoints every few records (and a budget that forces thinning), going back
    restores one and applies the rest: the same state."""
    monkeypatch.setattr(replay_module, "CHECKPOINT_EVERY", 50)
    replay = Replay(TraceIndex.open(recorded.path))
    replay.seek_position(len(replay.index))
    assert replay.checkpoints > 2
    kept, budget = replay.checkpoints, replay.checkpoint_bytes // 2
    monkeypatch.setattr(replay_module, "CHECKPOINT_BYTES", budget)
    replay.seek_position(0)
    replay.seek_position(len(replay.index))  # past the budget: thinned
    assert replay.checkpoint_bytes <= budget and replay.checkpoints < kept
    for time, records, live in reversed(recorded.captures):
        replay.seek(time)
        assert (replay.position, state(replay.model)) == (records, live)


def test_step_batch_speed_and_play(recorded: Recorded) -> None:
    replay = Replay(TraceIndex.open(recorded.path))
    replay.step()
    assert replay.position == 1
    replay.step(5)
    replay.step(-2)
    assert replay.position == 4
    replay.step_batch()
    assert replay.time > replay.time_of(4)
    after = replay.position
    replay.step_batch(forward=False)
    assert replay.position < after
    for _ in SPEEDS:
        replay.faster()
    assert replay.speed == SPEEDS[-1]
    for _ in SPEEDS:
        replay.slower()
    assert replay.speed == SPEEDS[0]
    replay.toggle()
    assert replay.playing
    steps = 0
    while replay.advance(5.0):
        steps += 1
    assert replay.at_end and not replay.playing and steps > 0
    replay.toggle()  # at the end: from the start again
    assert replay.playing and replay.position == 0


def test_read_trace_skips_the_dashboards_records(recorded: Recorded) -> None:
    events = read_trace(recorded.path)
    assert events and sum(isinstance(e, VaultUp) for e in events) >= 8


def test_an_event_only_trace_shows_vaults_up_and_down(tmp_path: Path) -> None:
    """A `vaultnet testnet --record` trace: vault rows from vault_up / vault_down."""
    path = tmp_path / "testnet.trace"
    a, b = b"\x01" * 32, b"\x02" * 32
    records = [{"kind": "vault_up", "time": 1.0, "vault": a, "address": ""},
               {"kind": "vault_up", "time": 1.5, "vault": b, "address": ""},
               {"kind": "fault", "time": 2.0, "vault": b, "fault": "lie"},
               {"kind": "vault_down", "time": 3.0, "vault": a, "reason": "killed"}]
    path.write_bytes(b"".join(msgpack.packb(r, use_bin_type=True) for r in records))
    replay = Replay(TraceIndex.open(path))
    replay.seek(2.0)
    assert {n: r.state for n, r in replay.model.vaults.items()} == {a: "up", b: "lie"}
    replay.seek(3.0)
    assert {n: r.state for n, r in replay.model.vaults.items()} == {b: "lie", a: "down"}
    replay.seek(1.2)
    assert list(replay.model.vaults) == [a]
    assert replay.model.summary.vaults_up == 1


@pytest.mark.parametrize("content,says", [
    (None, "cannot read"), (b"", "is empty"), (b"{\"kind\": 1}\n", "is not a trace"),
    (msgpack.packb({"kind": "nonsense", "time": 1.0}), "unknown kind"),
    (msgpack.packb({"kind": "vault_up", "vault": b"x"}), "has no time"),
], ids=["missing", "empty", "json", "unknown-kind", "no-time"])
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes | None,
                                       says: str) -> None:
    path = tmp_path / "bad.trace"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TraceError, match=says) as caught:
        TraceIndex.open(path)
    assert "\n" not in str(caught.value)


def test_a_truncated_recording_is_an_error(recorded: Recorded, tmp_path: Path) -> None:
    path = tmp_path / "cut.trace"
    path.write_bytes(recorded.path.read_bytes()[:-7])
    with pytest.raises(TraceError, match="truncated"):
        TraceIndex.open(path)
