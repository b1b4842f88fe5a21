"""`vaultnet tui --replay FILE` and `--record FILE`: the dashboard on a recording, and the live
dashboard writing one.

`ReplayApp` is the dashboard with no network: its model is the `Replay`'s model at the cursor,
a `Timeline` under the views moves the cursor, and the keys that would change a network are
refused with a one-line notice. `RecordingApp` is the live dashboard with its model's journal
written to a file (`tui.recording`) from the moment the network is up.
"""

from __future__ import annotations

from pathlib import Path

import trio
from textual.binding import Binding
from textual.widgets import Footer

from tui.app import VaultnetApp
from tui.errors import DashboardError
from tui.messages import NetworkReady
from tui.network import NetworkConfig
from tui.recording import Recorder, TraceError, TraceIndex, open_recording
from tui.replay import Replay
from tui.screens.ask import AskScreen
from tui.screens.help import HelpScreen
from tui.views.flows import FlowsView
from tui.widgets.event_table import EventTable
from tui.widgets.timeline import JUMP, Timeline

REFUSED = {"put": "put", "get": "get", "delete": "delete", "add": "add a vault",
           "kill": "kill", "restart": "restart", "fault": "fault", "version_new": "new tree",
           "version_put": "put a version", "version_delete": "delete a branch",
           "structured_put": "put a record", "structured_update": "update a record",
           "structured_delete": "delete a record",
           "message": "send a message", "online": "offline / online"}
"""The actions that need a live network (each one's name in the notice)."""


class ReplayError(DashboardError):
    """A recording cannot be replayed (its message is the one line the CLI prints)."""


class ReplayApp(VaultnetApp):
    """The dashboard on a recording: the views show the model at the timeline's cursor."""

    BINDINGS = [
        *VaultnetApp.BINDINGS,
        *(Binding(key, f"timeline({action!r})", text, show=False, priority=True)
          for key, action, text in (
              ("comma", "step(-1)", "step back"), ("full_stop", "step(1)", "step"),
              ("less_than_sign", "batch(False)", "batch back"),
              ("greater_than_sign", "batch(True)", "batch"),
              ("left_square_bracket", f"jump({-JUMP})", f"{JUMP:g} s back"),
              ("right_square_bracket", f"jump({JUMP})", f"{JUMP:g} s forward"),
              ("minus", "speed(False)", "slower"), ("plus,equals_sign", "speed(True)", "faster"),
              ("0", "edge(False)", "to the start"), ("dollar_sign", "edge(True)", "to the end"))),
        Binding("colon", "goto", "go to a time", show=False, priority=True),
    ]

    def __init__(self, replay: Replay, path: Path) -> None:
        """Replay `replay` (read from `path`), paused at its start."""
        super().__init__(model=replay.model)
        self.replay = replay
        self.status = f"replay {path.name}" + ("" if replay.index.samples else " (events only)")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """As live, but the views' footers leave out the keys a replay refuses (the keys
        themselves still reach their refusing actions)."""
        if action == "footer_key" and parameters and parameters[0] in REFUSED:
            return False
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        """The timeline goes under the views, above the footer (VaultnetApp's handler runs
        next)."""
        self.mount(Timeline(self.replay), before=self.query_one(Footer))

    async def action_timeline(self, action: str) -> None:
        """Run one of the timeline's actions (the replay keys)."""
        await self.query_one(Timeline).run_action(action)

    def action_pause(self) -> None:
        """space: play or pause the replay (the display always shows the cursor)."""
        self.query_one(Timeline).action_play()

    def action_goto(self) -> None:
        """Ask for a time (seconds from the start) and seek there."""
        r = self.replay
        self.push_screen(AskScreen(f"go to a time: seconds from the start (0 to "
                                   f"{r.end - r.start:.2f})", f"{r.time - r.start:.2f}"),
                         self._goto)

    def _goto(self, answer: str | None) -> None:
        if not answer:
            return
        try:
            seconds = float(answer.strip().rstrip("s"))
        except ValueError:
            self.notify(f"not a time in seconds: {answer.strip()[:40]}", severity="error")
            return
        self.query_one(Timeline).seek_to(seconds)

    def on_timeline_moved(self, _: Timeline.Moved) -> None:
        """Show the model at the cursor; a model rebuilt by a seek back is drawn afresh."""
        model = self.replay.model
        if model is not self.model:
            self.model = model
            self.query_one(EventTable).redraw()
            self.view(FlowsView).redraw_log()
        self.render_shown()

    def action_xor_focus(self) -> None:
        """As live, the XOR view drawn from the sample at the cursor."""
        super().action_xor_focus()
        self.model.refocus()
        self.render_shown()

    def action_help(self) -> None:
        """The help with the replay's keys first."""
        self.push_screen(HelpScreen(replay=True))

    def _refuse(self, action: str) -> None:
        self.notify(f"replay: {REFUSED[action]} needs a live network; this is a recording",
                    severity="warning")

    def action_put(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("put")

    def action_get(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("get")

    def action_delete(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("delete")

    def action_add(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("add")

    def action_kill(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("kill")

    def action_restart(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("restart")

    def action_fault(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("fault")

    def action_version_new(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("version_new")

    def action_version_put(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("version_put")

    def action_version_delete(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("version_delete")

    def action_structured_put(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("structured_put")

    def action_structured_update(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("structured_update")

    def action_structured_delete(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("structured_delete")

    def action_message(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("message")

    def action_online(self) -> None:
        """Refused: a recording cannot be changed."""
        self._refuse("online")


class RecordingApp(VaultnetApp):
    """The live dashboard, writing every change to its model to a recording."""

    def __init__(self, config: NetworkConfig, recorder: Recorder) -> None:
        """Record to `recorder` once the network is up."""
        super().__init__(config)
        self.recorder = recorder

    def on_network_ready(self, _: NetworkReady) -> None:
        """Start recording (Textual runs this before VaultnetApp's handler: the MPIDs' first
        states are the first operations written)."""
        self.recorder.start(self.model.capacity, self.model.group_size)
        self.model.journal = self.recorder

    async def on_unmount(self) -> None:
        """Stop recording before the network goes (VaultnetApp's handler runs next)."""
        self.model.journal = None
        self.recorder.close()


def open_replay(path: Path) -> Replay:
    """The replay of `path`; ReplayError (one line) if it cannot be replayed."""
    try:
        return Replay(TraceIndex.open(path))
    except TraceError as exc:
        raise ReplayError(str(exc)) from None


def replay_main(path: Path) -> int:
    """Run the dashboard on the recording at `path`."""
    app = ReplayApp(open_replay(path), path)
    app.handle_signals = True
    try:
        app.run()
    except TraceError as exc:  # the file changed under the replay
        raise ReplayError(str(exc)) from None
    return app.return_code or 0


def record_main(config: NetworkConfig, path: Path, tour: bool = False) -> int:
    """Run the live dashboard recording to `path` (OSError if it cannot be created), with the
    scenario tour if `tour`."""
    recorder = open_recording(path, trio.current_time)
    app = RecordingApp(config, recorder)
    app.handle_signals = True
    app.scenario = tour
    try:
        app.run()
    finally:
        recorder.close()
    if recorder.error is not None:
        raise ReplayError(f"the recording {path} stopped early: "
                          f"{recorder.error.strerror or recorder.error}")
    print(f"recorded {recorder.records:,} records -> {path}")
    return app.return_code or 0
