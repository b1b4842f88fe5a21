"""The replay's timeline: a bar with the cursor, play state, speed and time; it owns the
replay's actions (play, step, seek, speed) and says `Timeline.Moved` after each move.

The App binds the keys (they work from every view, whichever table has the keyboard) and
runs these actions; a click on the bar seeks to the time under the mouse.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tui.replay import Replay

TICK = 0.1
"""Seconds between moves while playing (each moves by the wall time that passed x speed)."""
JUMP = 5.0
"""Seconds of recorded time that [ and ] jump."""
PAD = 1
KEYS = ("space play/pause  , . step  < > batch  [ ] ±5s  - + speed  0 $ start/end  "
        ": go to time  click the bar")


class Timeline(Widget):
    """Where the replay's cursor is, and the keys that move it."""

    DEFAULT_CSS = """
    Timeline { height: 2; padding: 0 1; background: $boost; }
    Timeline:hover { background: $panel; }
    """

    class Moved(Message):
        """The replay's cursor moved (or play state / speed changed): redraw from its model."""

    def __init__(self, replay: Replay) -> None:
        """The timeline of `replay` (the widget moves it; the App reads its model)."""
        super().__init__()
        self.replay = replay
        self._last_tick: float | None = None

    def on_mount(self) -> None:
        """Tick while playing."""
        self.set_interval(TICK, self._tick)

    def _tick(self) -> None:
        now = asyncio.get_running_loop().time()
        last, self._last_tick = self._last_tick, now
        if last is not None and self.replay.advance(now - last):
            self._moved()
        elif not self.replay.playing and last is not None:
            self._last_tick = None
            self._moved()

    def _moved(self) -> None:
        self.refresh()
        self.post_message(self.Moved())

    # -- drawing ------------------------------------------------------------------------------

    def _bar_width(self) -> int:
        return max(self.content_region.width - 2 * PAD, 1)

    def render(self) -> Text:
        """The bar (played part bright, the cursor a dot), then the state line."""
        r = self.replay
        width = self._bar_width()
        span = r.end - r.start
        at = round((r.time - r.start) / span * (width - 1)) if span > 0 else width - 1
        text = Text(" " * PAD, no_wrap=True, overflow="ellipsis")
        text.append("━" * at, style="bold cyan")
        text.append("●", style="bold yellow")
        text.append("─" * (width - 1 - at), style="dim")
        state = "▶ playing" if r.playing else "  paused " if not r.at_end else "■ end    "
        text.append(f"\n{state} {r.speed:g}x  {r.time - r.start:8.2f}s / {span:.2f}s  "
                    f"record {r.position:,} / {len(r.index):,}  ", style="bold")
        text.append(KEYS, style="dim")
        return text

    def on_click(self, event: events.Click) -> None:
        """Seek to the time under the mouse (on either line)."""
        x = event.x - self.styles.padding.left - PAD
        fraction = min(max(x / max(self._bar_width() - 1, 1), 0.0), 1.0)
        r = self.replay
        r.seek(r.start + fraction * (r.end - r.start))
        self._moved()

    # -- actions (the App's replay keys run these) --------------------------------------------

    def action_play(self) -> None:
        """Play or pause."""
        self.replay.toggle()
        self._last_tick = None
        self._moved()

    def action_step(self, records: int) -> None:
        """Step this many records (negative: back)."""
        self.replay.step(records)
        self._moved()

    def action_batch(self, forward: bool) -> None:
        """Step one batch (0.1 s of recorded time) forward or back."""
        self.replay.step_batch(forward)
        self._moved()

    def action_jump(self, seconds: float) -> None:
        """Seek this many recorded seconds forward or back."""
        self.replay.seek(self.replay.time + seconds)
        self._moved()

    def action_edge(self, end: bool) -> None:
        """Seek to the start or the end."""
        if end:
            self.replay.seek_position(len(self.replay.index))
        else:
            self.replay.seek_position(0)
        self._moved()

    def action_speed(self, faster: bool) -> None:
        """The next speed up or down."""
        if faster:
            self.replay.faster()
        else:
            self.replay.slower()
        self._moved()

    def seek_to(self, seconds: float) -> None:
        """Seek to `seconds` after the recording's start."""
        self.replay.seek(self.replay.start + seconds)
        self._moved()
