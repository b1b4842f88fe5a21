"""`vaultnet tui`: the dashboard App. It owns the trio guest that runs the embedded testnet
(or reaches an attached one: `vaultnet tui --attach`), drains the event stream on a timer in
batches into the `NetworkModel`, and re-renders the shown view from the model; keys start
network operations as trio tasks. It reaches the network only through a
`vaultnet.control.handle.NetworkHandle`, so both ways behave the same.

The App holds the layout and the keys; each view (`tui.views`) draws itself and
owns the actions of its keys, which the App's bindings hand to it.

The live side (guest, drain, samples, operations) is `tui.live.LiveApp`; keys typed ahead of
a prompt are `tui.typeahead`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, TabbedContent

from tui.live import DRAIN_INTERVAL, LiveApp
from tui.messages import ModelRefreshed
from tui.network import NetworkConfig
from tui.palette import Actions
from tui.scenario import TOUR_CAPACITY, TOUR_VAULTS, ScenarioPanel, Stage
from tui.screens.help import HelpScreen
from tui.tour import TourPanel
from tui.views.base import View
from tui.views.chunks import MAX_PUT, ChunksView
from tui.views.events import EventsView
from tui.views.flows import FlowsView
from tui.views.ranking import RankingsView
from tui.views.vaults import VaultsView
from tui.views.versions import VersionsView
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.summary_bar import SummaryBar
from vaultnet.control.handle import NetworkHandle

__all__ = ["MAX_PUT", "TABS", "VaultnetApp", "main"]

MIN_SIZE = (80, 24)

TABS = ("vaults", "chunks", "flows", "evictions", "ranking", "versions")
VIEWS: tuple[tuple[type[View], str], ...] = (
    (VaultsView, "1 Vaults"), (ChunksView, "2 Chunks & XOR"), (FlowsView, "3 Flows"),
    (EventsView, "4 Evictions & churn"), (RankingsView, "5 Ranking"),
    (VersionsView, "6 Versions & messages"))
"""Each view in TABS order, with its tab's title; its pane's id is "<tab>-pane"."""

_V = TypeVar("_V", bound=View)


class VaultnetApp(LiveApp):
    """The dashboard: a summary bar, six views in tabs, a footer of the shown view's keys."""

    TITLE = "vaultnet"
    COMMANDS = App.COMMANDS | {Actions}
    CSS = """
    TabbedContent, TabbedContent > ContentSwitcher, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS = [
        *(Binding(key, action, text, show=False, priority=True) for key, action, text in (
            ("p", "put", "put a chunk"), ("g", "get", "get the selected chunk"),
            ("D", "delete", "delete the selected chunk"), ("t", "follow", "follow"),
            ("x", "xor_focus", "XOR view"), ("a", "add", "add a vault"),
            ("K", "kill", "kill the selected vault"),
            ("r", "restart", "restart the selected vault"), ("f", "fault", "inject a fault"),
            ("n", "version_new", "new version tree"), ("v", "version_put", "put a version"),
            ("b", "version_delete", "delete a branch"),
            ("s", "structured_put", "put a structured data record"),
            ("u", "structured_update", "update the selected structured data record"),
            ("X", "structured_delete", "delete the selected structured data record"),
            ("m", "message", "send a message"),
            ("o", "online", "MPID offline / online"), ("slash", "filter", "filter the log"),
            ("c", "event_kind", "show the next kind of event"),
            ("space", "pause", "pause the display"))),
        Binding("question_mark", "help", "help", priority=True),
        Binding("T", "tour", "guided tour", show=False, priority=True),
        *(Binding(key, action, text, show=False, priority=True) for key, action, text in (
            ("enter,right", "tour_next", "tour: next step"),
            ("left", "tour_back", "tour: step back"), ("escape", "tour_leave", "leave the tour"))),
        Binding("q", "quit", "quit", priority=True),
        Binding("ctrl+c", "interrupt", "quit (ctrl+c)", show=False, priority=True),
        *(Binding(str(i), f"tab('{tab}')", f"view {i}: {tab}", show=False, priority=True)
          for i, tab in enumerate(TABS, start=1)),
    ]
    """The App's keys are priority bindings: they run as the App takes each key from the
    terminal, in the order typed, so a prompt a key opens is on the screen before the next key
    is routed (that key lands in the prompt). While a prompt or the help is open they are
    off (`check_action`) and keys go to it, except ctrl+c. The tour's keys (enter, arrows,
    escape) are on only while the tour is."""

    scenario = False
    """Start the scenario tour (`vaultnet tui --tour`) as the dashboard opens."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The App's keys are off while a prompt or the help is on top (they type there)."""
        if action.startswith("tour_") and self.tour is None:
            return False
        return action in ("interrupt", "command_palette") or len(self.screen_stack) == 1

    async def action_footer_key(self, action: str) -> None:
        """A view's footer entry (clicked): the App's own action."""
        await self.run_action(action)

    async def action_interrupt(self) -> None:
        """ctrl+c quits from anywhere, a prompt included (Textual's default only hints)."""
        await self.action_quit()

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """The summary bar, the views in tabs, the footer."""
        yield SummaryBar()
        with TabbedContent(initial="vaults-pane"):
            for tab, (view, title) in zip(TABS, VIEWS, strict=True):
                yield view(title, id=f"{tab}-pane")
        yield Footer(compact=True, show_command_palette=False)

    def view(self, kind: type[_V]) -> _V:
        """The view of that kind."""
        return self.query_one(kind)

    @property
    def shown(self) -> View | None:
        """The view on screen."""
        pane = self.query_one(TabbedContent).active_pane
        return pane if isinstance(pane, View) else None

    @property
    def filter_text(self) -> str:
        """The message log's filter (view 3)."""
        return self.view(FlowsView).filter_text

    def on_mount(self) -> None:
        """Start the drain, draw the first view, take the signals (if asked to)."""
        self.query_one(SummaryBar).set_interval(DRAIN_INTERVAL, self.drain)
        self.render_shown()
        self.view(VaultsView).focus_main()
        self.take_signals()
        if self.scenario:
            self.mount(ScenarioPanel("vaults", Stage(self)), before=self.query_one(Footer))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Give the shown view's main widget the keyboard (arrows move in it, not the tabs).
        Only if that view is still the one shown: keys typed fast switch views faster than
        these messages arrive, and focusing a widget in a view already left makes Textual's
        TabbedContent show that view again (TabPane.Focused), so a burst of 4 5 ended on 4."""
        if isinstance(event.pane, View) and event.pane is self.shown:
            event.pane.focus_main()
        self.render_shown()

    def on_resize(self) -> None:
        """Warn when the terminal is smaller than the dashboard needs."""
        width, height = self.size
        if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
            self.notify(f"terminal is {width}x{height}; the dashboard needs at least "
                        f"{MIN_SIZE[0]}x{MIN_SIZE[1]}", severity="warning")

    def on_model_refreshed(self, _: ModelRefreshed) -> None:
        """Show the model's news, unless paused."""
        if not self.paused:
            self.render_shown()

    def render_shown(self) -> None:
        """Bring the summary bar and the view on screen up to date with the model. Hidden
        views are brought up to date when they are shown (`on_tabbed_content_tab_activated`):
        rendering all six on every refresh cost about 75 ms a time on this machine and, with
        the network on the same loop, slowed every message the vaults pass."""
        if not self.query(SummaryBar):
            return  # shutting down: the widgets are being removed one by one
        with self.batch_update():
            self.query_one(SummaryBar).show(self.model, self.paused, self.status)
            if (view := self.shown) is not None:
                view.show()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """A new row selected: a chunk becomes the XOR view's focus; redraw (details)."""
        if isinstance(event.data_table, ChunkTable) and event.row_key.value is not None:
            self.model.focus = bytes.fromhex(str(event.row_key.value))
        if not self.paused:
            self.render_shown()

    # -- the keys: each hands its action to the view that owns it ----------------------------

    def action_put(self) -> None:
        """p: put a chunk (view 2)."""
        self.view(ChunksView).action_put()

    def action_get(self) -> None:
        """g: get the selected chunk (view 2)."""
        self.view(ChunksView).action_get()

    def action_delete(self) -> None:
        """D: delete the selected chunk (view 2)."""
        self.view(ChunksView).action_delete()

    def action_xor_focus(self) -> None:
        """x: the XOR view of the selected vault or chunk (view 2)."""
        self.view(ChunksView).action_xor_focus()

    def action_add(self) -> None:
        """a: add a vault (view 1)."""
        self.view(VaultsView).action_add()

    def action_kill(self) -> None:
        """K: kill the selected vault (view 1)."""
        self.view(VaultsView).action_kill()

    def action_restart(self) -> None:
        """r: restart the selected vault (view 1)."""
        self.view(VaultsView).action_restart()

    def action_fault(self) -> None:
        """f: inject a fault into the selected vault (view 1)."""
        self.view(VaultsView).action_fault()

    def action_version_new(self) -> None:
        """n: a new version tree (view 6)."""
        self.view(VersionsView).action_version_new()

    def action_version_put(self) -> None:
        """v: put a version (view 6)."""
        self.view(VersionsView).action_version_put()

    def action_version_delete(self) -> None:
        """b: delete a branch (view 6)."""
        self.view(VersionsView).action_version_delete()

    def action_structured_put(self) -> None:
        """s: put a structured data record (view 6)."""
        self.view(VersionsView).action_structured_put()

    def action_structured_update(self) -> None:
        """u: update the selected structured data record (view 6)."""
        self.view(VersionsView).action_structured_update()

    def action_structured_delete(self) -> None:
        """X: delete the selected structured data record (view 6)."""
        self.view(VersionsView).action_structured_delete()

    def action_message(self) -> None:
        """m: send a message (view 6)."""
        self.view(VersionsView).action_message()

    def action_online(self) -> None:
        """o: take an MPID offline or bring it online (view 6)."""
        self.view(VersionsView).action_online()

    def action_event_kind(self) -> None:
        """c: view 4 narrowed to the next kind of event."""
        self.view(EventsView).action_event_kind()

    def action_follow(self) -> None:
        """t: follow the selected chunk's operation, or in view 6 the selected version tree's
        latest operation or message's delivery (else its send; pressed again in view 6, the
        send of a message delivered later), in view 3."""
        source: ChunksView | VersionsView = (
            self.view(VersionsView) if isinstance(self.shown, VersionsView)
            else self.view(ChunksView))
        if (trace := source.followable()) is not None:
            self.view(FlowsView).follow(trace)

    def action_filter(self) -> None:
        """/: filter view 4's events while it is shown, else the message log (view 3)."""
        if isinstance(self.shown, EventsView):
            self.shown.ask_filter()
        else:
            self.view(FlowsView).ask_filter()

    def action_pause(self) -> None:
        """space: pause the display, or go on (the message log catches up)."""
        self.paused = not self.paused
        if not self.paused:
            self.view(FlowsView).redraw_log()
        self.render_shown()

    def action_tab(self, tab: str) -> None:
        """Show a view and give its main widget the keyboard, so arrows move in it."""
        self.query_one(TabbedContent).active = f"{tab}-pane"

    def action_help(self) -> None:
        """?: every key and view."""
        self.push_screen(HelpScreen())

    # -- the guided tour ---------------------------------------------------------------------

    @property
    def tour(self) -> TourPanel | None:
        """The tour, while it is on."""
        return next((t for t in self.query(TourPanel) if not t.done), None)

    def action_tour(self) -> None:
        """T: a guided tour of the views (from its first step again if it is on)."""
        if tour := self.tour:
            tour.go(-len(tour.steps))
            return
        home = self.shown.id if self.shown is not None and self.shown.id else "vaults-pane"
        self.mount(TourPanel(home.removesuffix("-pane")), before=self.query_one(Footer))

    def action_tour_next(self) -> None:
        """enter / →: the tour's next step."""
        if tour := self.tour:
            tour.go(1)

    def action_tour_back(self) -> None:
        """←: the tour's step before."""
        if tour := self.tour:
            tour.go(-1)

    def action_tour_leave(self) -> None:
        """escape: leave the tour, back to the view it started from."""
        if tour := self.tour:
            tour.leave()


def network_size(vaults: int | None, capacity: int | None, tour: bool) -> tuple[int, int | None]:
    """The dashboard's testnet's vaults and capacity (None: the default) from the flags: the
    tour's small testnet unless they say otherwise, else 16 vaults (one place for both the
    embedded testnet and one in its own process)."""
    if tour:
        return vaults or TOUR_VAULTS, capacity or TOUR_CAPACITY
    return vaults or NetworkConfig.vaults, capacity


def main(vaults: int | None = None, transport: str = "tcp", seed: int | None = None,
         capacity: int | None = None, data_dir: Path | None = None,
         record: Path | None = None, replay: Path | None = None,
         attach: NetworkHandle | None = None, tour: bool = False) -> int:
    """Run the dashboard on a new embedded testnet (written to `record` if given), on the
    recording `replay`, or on the running testnet `attach`; with `tour`, the scenario tour
    acts on it (on a testnet of its own: TOUR_VAULTS vaults of TOUR_CAPACITY unless `vaults`
    or `capacity` say otherwise). The exit code (1 if the network crashed or went away)."""
    if replay is not None:
        from tui.replay_app import replay_main  # tui.replay_app imports this module

        return replay_main(replay)
    vaults, capacity = network_size(vaults, capacity, tour)
    config = NetworkConfig(vaults, transport, seed, capacity or NetworkConfig.capacity,
                           data_dir)
    if record is not None:
        from tui.replay_app import record_main

        return record_main(config, record, tour)
    app = VaultnetApp(config, network=attach)
    app.handle_signals = True
    app.scenario = tour
    app.run()
    return app.return_code or 0
