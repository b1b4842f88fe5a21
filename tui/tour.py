"""The guided tour (T): a few steps through the views for a first-time user. Each step shows a
view, outlines the widget to look at (close groups, message flows, sacrificial evictions,
ranking ...) and says which keys act there (put, get, delete, churn, faults); enter or → goes
on, ← goes back, escape leaves, and leaving shows again the view the tour started from.

The tour is a panel above the footer, not a screen over the dashboard: the views stay live
under it and every key still works, so a step that says "p puts a chunk" can be tried at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, cast

from textual.widget import Widget
from textual.widgets import Static

from tui.widgets.chunk_table import ChunkTable
from tui.widgets.event_table import EventTable
from tui.widgets.ranking import RankingView
from tui.widgets.space_time import SpaceTime
from tui.widgets.vault_table import VaultDetail, VaultTable
from tui.widgets.version_table import VersionTable
from tui.widgets.xor_view import XorView


@dataclass(frozen=True)
class Step:
    """One step: the view (a name in `tui.app.TABS`), the widget to look at, what to say."""

    tab: str
    target: type[Widget]
    title: str
    text: str


STEPS = (
    Step("vaults", VaultTable, "Vaults",
         "Every vault of the testnet: up or down (or the faults it carries), stored / capacity, "
         "copies by kind (P primary, B backup, S sacrificial), rank, messages per second. "
         "↑ ↓ select one. [b]a[/] adds a vault, [b]K[/] kills the selected one and [b]r[/] "
         "restarts it (churn); [b]f[/] injects a fault: lie, lose, corrupt, silent, heal."),
    Step("vaults", VaultDetail, "Close groups",
         "The selected vault's close group: the vaults nearest its name, as it sees them, "
         "which keep its account; then that PmidManager account and the copies it holds. "
         "Add or kill a vault ([b]a[/], [b]K[/]) and the groups change."),
    Step("chunks", ChunkTable, "Chunks",
         "The chunks you put, and which vaults hold each copy. [b]p[/] puts one (a size: "
         "4096, 64K, 1M, or a file's path), [b]g[/] gets the selected one back and checks "
         "it, [b]D[/] deletes it. A chunk whose every copy is gone shows LOST."),
    Step("chunks", XorView, "XOR distance",
         "Each copy lives on the vaults nearest its name in XOR space: here they are, by "
         "the leading bits they share with it, the close group above the rule. [b]x[/] "
         "centres this on the selected vault or chunk."),
    Step("flows", SpaceTime, "Message flows",
         "The followed operation ([b]t[/] on a chunk) as a space-time diagram: a lane per "
         "persona, time downwards, an arrow per message, a group's identical messages "
         "folded (xN). Below it the live message log: [b]/[/] filters it, [b]space[/] "
         "pauses the display."),
    Step("evictions", EventTable, "Sacrificial evictions and churn",
         "A row per happening: sacrificial copies evicted to make room for a primary, put "
         "failures, holders removed and replicated, rank changes, vaults joining or leaving "
         "close groups, faults. [b]c[/] shows one kind at a time, [b]/[/] filters by words."),
    Step("ranking", RankingView, "Ranking",
         "Each node's rank, stored / (stored + lost), as its PmidManagers count it, and its "
         "history: a vault that loses or lies about its copies ([b]f[/]) sinks."),
    Step("versions", VersionTable, "Versions and messages",
         "Version trees ([b]n[/] a new tree, [b]v[/] a version, [b]b[/] delete a branch) and "
         "messages between alice and bob ([b]m[/] sends one, [b]o[/] takes one offline: its "
         "MpidManagers hold its messages until it is back). That is the tour: [b]?[/] lists "
         "every key, [b]T[/] starts the tour again."),
)
"""The steps, in order."""

TARGET = "tour-target"
"""The class of the widget a step outlines."""


class Host(Protocol):
    """What the tour needs of the App: to show a view."""

    def action_tab(self, tab: str) -> None:
        """Show a view (by its name in `TABS`)."""


class TourPanel(Static):
    """The tour: the step's text above the footer, its widget outlined in the view."""

    DEFAULT_CSS = """
    TourPanel { height: auto; max-height: 50%; border: round $success; padding: 0 1;
                background: $boost; border-subtitle-color: $text-muted; }
    *.tour-target, *.tour-target:focus { border: heavy $success; border-title-color: $success; }
    """
    SCOPED_CSS = False  # the outline is on a widget outside the panel

    def __init__(self, home: str, steps: tuple[Step, ...] = STEPS) -> None:
        """A tour started from the view `home` (shown again when it ends)."""
        super().__init__(id="tour")
        self.home = home
        self.steps = steps
        self.index = 0
        self.done = False  # left: a step still queued (its mount) must not show a view
        self._target: Widget | None = None
        self._title: str | None = None  # the outlined widget's border title before

    @property
    def step(self) -> Step:
        """The step shown."""
        return self.steps[self.index]

    def on_mount(self) -> None:
        """Show the step (the first, unless keys typed ahead have moved on, or left)."""
        self.show_step()

    def show_step(self) -> None:
        """Show the step's view, outline its widget, say what to look at."""
        if self.done:
            return
        step = self.step
        self._host().action_tab(step.tab)
        self._outline(self.app.query_one(step.target))
        last = self.index == len(self.steps) - 1
        keys = ("enter or → ends the tour" if last else "enter or → next") + (
            "   ← back" if self.index else "") + "   escape leaves"
        self.border_title = f"tour {self.index + 1}/{len(self.steps)}"
        self.border_subtitle = keys  # on the border: seen even when a small screen cuts the text
        self.update(f"[b]{step.title}[/]  {step.text}")

    def go(self, steps: int) -> None:
        """Move `steps` on (or back); past the last step the tour ends."""
        index = max(0, self.index + steps)
        if index >= len(self.steps):
            self.leave()
            return
        self.index = index
        self.show_step()

    def leave(self) -> None:
        """End the tour: no outline, the view it started from, the panel gone."""
        if self.done:
            return
        self.done = True
        self._outline(None)
        self._host().action_tab(self.home)
        self.remove()

    def _outline(self, widget: Widget | None) -> None:
        if self._target is not None:
            self._target.remove_class(TARGET)
            self._target.border_title = self._title
        self._target = widget
        if widget is not None:
            self._title = widget.border_title
            widget.add_class(TARGET)
            widget.border_title = f"tour: {self.step.title}"

    def _host(self) -> Host:
        return cast(Host, self.app)
