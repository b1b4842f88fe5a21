"""`vaultnet tui --replay FILE` in Textual's pilot: a recorded seeded run, sought to the times
its live model was captured at, shows that model; the timeline's keys and a click move the
cursor; the keys that would change a network are refused; bad files are one error line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.helpers import event_rows, record_notifications, run_app, wait_until
from tests.tui.recorded import Recorded, record_run, state
from tui.app import VaultnetApp
from tui.model import NetworkModel
from tui.network import NetworkConfig
from tui.recording import Recorder, TraceIndex, open_recording
from tui.replay import SPEEDS
from tui.replay_app import REFUSED, RecordingApp, ReplayApp, open_replay
from tui.screens.help import HelpScreen
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.timeline import JUMP, Timeline
from tui.widgets.vault_table import VaultTable
from vaultnet.cli.main import main as cli_main


def offset(start: float, time: float) -> float:
    """Seconds from `start` that land on `time` itself when added back (the prompt's answer
    is added to the start: a rounding down by one ulp would miss the capture's records)."""
    seconds = time - start
    while start + seconds < time:
        seconds = math.nextafter(seconds, math.inf)
    return seconds


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record_run(tmp_path_factory.mktemp("rec") / "run.trace")


def replay_app(path: Path) -> ReplayApp:
    return ReplayApp(open_replay(path), path)


async def goto(pilot: Pilot[Any], seconds: float) -> None:
    """Seek with the `:` prompt, as a user would."""
    await pilot.press("colon")
    await wait_until(pilot, lambda: isinstance(pilot.app.focused, Input), "the prompt")
    pilot.app.screen.query_one(Input).value = repr(seconds)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(pilot.app.screen_stack) == 1, "the prompt closed")


def test_each_view_holds_the_live_state_at_the_captured_times(recorded: Recorded) -> None:
    app = replay_app(recorded.path)
    start = app.replay.start

    async def body(pilot: Pilot[Any]) -> None:
        order = list(range(len(recorded.captures)))
        for i in [*order[::2], *reversed(order), len(order) - 1, 2]:
            time, records, live = recorded.captures[i]
            await goto(pilot, offset(start, time))
            assert app.replay.position == records, f"capture {i}"
            assert app.model is app.replay.model
            assert state(app.model) == live, f"capture {i}"
            await pilot.press("1")
            vaults = app.query_one(VaultTable)
            assert vaults.row_count == len(live["vaults"])
            summary = str(app.query_one(SummaryBar).render())
            s = live["summary"]
            assert f"vaults {s['vaults_up']} up / {s['vaults_down']} down" in summary
            assert f"chunks {s['chunks']} " in summary

    run_app(app, body)


def test_timeline_keys_and_click(recorded: Recorded) -> None:
    app = replay_app(recorded.path)
    replay = app.replay

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("full_stop", "full_stop", "full_stop")
        assert replay.position == 3
        await pilot.press("comma")
        assert replay.position == 2
        await pilot.press("right_square_bracket")
        assert replay.time == pytest.approx(replay.start + JUMP)
        jumped = replay.position
        await pilot.press("greater_than_sign")
        assert replay.position > jumped
        await pilot.press("less_than_sign")
        assert replay.position <= jumped
        await pilot.press("left_square_bracket")
        assert replay.time == replay.start
        await pilot.press("dollar_sign")
        assert replay.at_end
        await pilot.press("0")
        assert replay.position == 0
        await pilot.press("minus")
        assert replay.speed == SPEEDS[0]
        await pilot.press(*["plus"] * len(SPEEDS))
        assert replay.speed == SPEEDS[-1]

        timeline = app.query_one(Timeline)
        width = timeline.content_region.width
        await pilot.click(Timeline, offset=(timeline.styles.padding.left + width // 2, 0))
        middle = replay.start + (replay.end - replay.start) / 2
        assert abs(replay.time - middle) <= (replay.end - replay.start) / width * 2
        assert 0 < replay.position < len(replay.index)
        assert "paused" in str(timeline.render())

        await pilot.press("space")  # play at 16x: to the end, then it stops by itself
        await wait_until(pilot, lambda: replay.at_end and not replay.playing, "the end")
        assert "end" in str(timeline.render())

    run_app(app, body)


def test_network_keys_are_refused_and_help_lists_the_replay_keys(recorded: Recorded) -> None:
    app = replay_app(recorded.path)

    async def body(pilot: Pilot[Any]) -> None:
        said = record_notifications(app)
        await pilot.press("dollar_sign")
        for key in ("p", "g", "D", "a", "K", "r", "f", "n", "v", "b", "m", "o"):
            await pilot.press(key)
            assert len(app.screen_stack) == 1, key  # no prompt opened
        assert len(said) == 12
        assert all(line.startswith("replay: ") and "\n" not in line for line in said)
        assert app.replay.at_end  # nothing moved
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Replay" in app.screen.text and "go to a time" in app.screen.text

    run_app(app, body)


def footer_actions(app: Any) -> set[str]:
    """The actions of the keys the footer shows now."""
    return {active.binding.action for active in app.screen.active_bindings.values()
            if active.binding.show}


def test_the_replay_footers_leave_out_the_network_keys(recorded: Recorded) -> None:
    live, replay = VaultnetApp(model=NetworkModel(0)), replay_app(recorded.path)
    refused = {f"app.footer_key({action!r})" for action in REFUSED}
    shown: dict[str, set[str]] = {}

    async def body(pilot: Pilot[Any]) -> None:
        for view in "123456":
            await pilot.press(view)
            shown[view] = footer_actions(pilot.app)

    run_app(live, body)
    assert refused & shown["1"] and refused & shown["2"] and refused & shown["6"]
    live_shown = dict(shown)
    run_app(replay, body)
    for view, actions in shown.items():
        assert not actions & refused, view
        assert live_shown[view] - refused <= actions, view  # the other keys stay


@pytest.fixture(scope="module")
def live_recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorder, NetworkModel]:
    """`vaultnet tui --record`: a live dashboard on the simulator, a put; the file, its
    recorder and the live model at the end."""
    path = tmp_path_factory.mktemp("live") / "live.trace"
    recorder = open_recording(path, trio.current_time)
    app = RecordingApp(NetworkConfig(vaults=8, transport="sim", seed=3), recorder)

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: app.network and app.network.ready, "network up")
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.focused, Input), "the put prompt")
        app.screen.query_one(Input).value = "2048"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(
            c.holders and all(c.holders.values()) for c in app.model.chunks.values()),
            "the chunk's holders sampled")

    run_app(app, body)
    return path, recorder, app.model


def test_record_in_the_dashboard_then_replay_to_its_end(
        live_recorded: tuple[Path, Recorder, NetworkModel]) -> None:
    """The live model at the end of a recorded session is what the replay holds at the end
    (the selection's focus aside: the user's cursor)."""
    path, recorder, model = live_recorded
    live = state(model)
    replay = open_replay(path)
    replay.seek_position(len(replay.index))
    replayed = state(replay.model)
    assert recorder.error is None and recorder.records > 100
    assert {k: v for k, v in replayed.items() if k != "focus"} == {
        k: v for k, v in live.items() if k != "focus"}


def test_view_4_shows_no_row_after_the_cursor(
        live_recorded: tuple[Path, Recorder, NetworkModel]) -> None:
    """A dashboard recording begins once its network is up, after the events of its start-up
    (written with their own, earlier times): wherever the cursor goes, back or forth, view 4
    shows no row later than the cursor, and going back drops the rows after it."""
    app = replay_app(live_recorded[0])
    replay = app.replay

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await pilot.press("dollar_sign")
        await pilot.pause()
        at_end = len(event_rows(app))
        assert at_end
        shown = []
        for fraction in (1.0, 0.5, 0.2, 0.0, 0.8):
            await goto(pilot, (replay.end - replay.start) * fraction)
            await pilot.pause()
            cursor = float(f"{replay.time - replay.start:.2f}")  # as the timeline says it
            rows = event_rows(app)
            assert all(float(row[0].rstrip("s")) <= cursor for row in rows), (cursor, rows[-1])
            shown.append(len(rows))
        assert min(shown) < shown[0] == at_end  # going back dropped rows

    run_app(app, body)


@pytest.mark.parametrize("content,says", [
    (None, "cannot read"), (b"", "is empty"), (b"hello, not a trace\n", "is not a trace"),
    ("cut", "is truncated")], ids=["missing", "empty", "garbage", "truncated"])
def test_bad_files_exit_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      recorded: Recorded, content: bytes | str | None,
                                      says: str) -> None:
    path = tmp_path / "bad.trace"
    if content == "cut":
        path.write_bytes(recorded.path.read_bytes()[:-5])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    assert cli_main(["tui", "--replay", str(path)]) == 1
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and says in err and "Traceback" not in err


def test_replay_and_record_together_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.trace"
    path.write_bytes(msgpack.packb({"kind": "vault_up", "time": 1.0, "vault": b"a"}))
    assert TraceIndex.open(path)
    assert cli_main(["tui", "--replay", str(path), "--record", str(tmp_path / "y")]) == 2
    assert "cannot also --record" in capsys.readouterr().err
