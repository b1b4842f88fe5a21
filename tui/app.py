"""`vaultnet tui`: the dashboard App. It owns the trio guest that runs the embedded testnet
(or reaches an attached one: `vaultnet tui --attach`), drains the event stream on a timer in
batches into the `NetworkModel`, and re-renders the views from the model; keys start network
operations as trio tasks. It reaches the network only through a
`vaultnet.control.handle.NetworkHandle`, so both ways behave the same.

Decisions: the drain runs every DRAIN_INTERVAL and takes at most DRAIN_BATCH events per tick
(the subscription buffer is bounded, overflow is counted); the network is sampled every
SAMPLE_INTERVAL; pausing (space) freezes the views while the drain keeps folding events into the
model, so nothing is lost and the network never waits for the screen.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, TabbedContent

from tui.guest import TrioGuest
from tui.messages import KeysMayFlow, ModelRefreshed, NetworkReady
from tui.model import NetworkModel, VersionedItem
from tui.network import LiveNetwork, NetworkConfig
from tui.screens.ask import CLOSE_KEYS, AskScreen
from tui.screens.help import HelpScreen
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.event_table import EventCounts, EventTable
from tui.widgets.flow_log import FilteredLog
from tui.widgets.identity_bar import IdentityBar
from tui.widgets.message_table import MessageTable
from tui.widgets.panes import ChunksPane, EventsPane, LogPane, RankingPane, VaultsPane
from tui.widgets.ranking import RankingView
from tui.widgets.space_time import SpaceTime
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultDetail, VaultTable
from tui.widgets.version_group import VersionGroup
from tui.widgets.version_table import VersionTable
from tui.widgets.versions_pane import VersionsPane
from tui.widgets.xor_view import XorView
from vaultnet.client.chunk_input import ChunkInputError, parse_size, read_chunk_file
from vaultnet.client.maid import MAX_CHUNK_SIZE, ClientError
from vaultnet.control.handle import NetworkHandle
from vaultnet.control.operations import MPIDS, pick
from vaultnet.control.server import ControlError
from vaultnet.personas.mpid_manager import MAX_BODY
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime.faults import Fault
from vaultnet.runtime.testnet import TestnetError
from vaultnet.xor import name_of, short

DRAIN_INTERVAL = 0.1
DRAIN_BATCH = 20_000
SAMPLE_INTERVAL = 1.0
MAX_PUT = MAX_CHUNK_SIZE
MIN_SIZE = (80, 24)
MAX_HELD_KEYS = 10_000
"""Keys held while a prompt opens or closes: a pasted burst of puts fits, an endless stream of
keys cannot grow memory (beyond it keys are refused, with one notice)."""
EXPECTED = (ClientError, TestnetError, ControlError, OSError)
"""Failures of an operation the user asked for: shown as a notification, never a crash."""


class PutInputError(ValueError):
    """The answer to the put prompt names no chunk: a bad size, or a file that cannot be one."""


TABS = ("vaults", "chunks", "flows", "evictions", "ranking", "versions")


class Actions(Provider):
    """Every key's action in the command palette."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, VaultnetApp)
        matcher = self.matcher(query)
        for binding in app.BINDINGS:
            assert isinstance(binding, Binding)
            key = binding.key_display or app.get_key_display(binding)
            if (score := matcher.match(f"{binding.description} {key}")) > 0:
                yield Hit(score, matcher.highlight(binding.description),
                          lambda action=binding.action: app.run_action(action),
                          help=f"key {key}")


class VaultnetApp(App[None]):
    TITLE = "vaultnet"
    COMMANDS = App.COMMANDS | {Actions}
    CSS = """
    TabbedContent, TabbedContent > ContentSwitcher, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    #chunks-pane > Horizontal > ChunkTable { width: 1fr; }
    #chunks-pane > Horizontal > XorView { width: 1fr; }
    #flows-pane > VerticalScroll { height: 1fr; }
    FilteredLog { border: round $panel-lighten-2; }
    FilteredLog:focus { border: round $accent; }
    """
    BINDINGS = [
        *(Binding(key, action, text, show=False, priority=True) for key, action, text in (
            ("p", "put", "put a chunk"), ("g", "get", "get the selected chunk"),
            ("D", "delete", "delete the selected chunk"), ("t", "follow", "follow"),
            ("x", "xor_focus", "XOR view"), ("a", "add", "add a vault"),
            ("K", "kill", "kill the selected vault"),
            ("r", "restart", "restart the selected vault"), ("f", "fault", "inject a fault"),
            ("n", "version_new", "new version tree"), ("v", "version_put", "put a version"),
            ("b", "version_delete", "delete a branch"), ("m", "message", "send a message"),
            ("o", "online", "MPID offline / online"), ("slash", "filter", "filter the log"),
            ("c", "event_kind", "show the next kind of event"),
            ("space", "pause", "pause the display"))),
        Binding("question_mark", "help", "help", priority=True),
        Binding("q", "quit", "quit", priority=True),
        Binding("ctrl+c", "interrupt", "quit (ctrl+c)", show=False, priority=True),
        *(Binding(str(i), f"tab('{tab}')", f"view {i}: {tab}", show=False, priority=True)
          for i, tab in enumerate(TABS, start=1)),
    ]
    """The App's keys are priority bindings: they run as the App takes each key from the
    terminal, in the order typed, so a prompt a key opens is on the screen before the next key
    is routed (that key lands in the prompt). While a prompt or the help is open they are
    off (`check_action`) and keys go to it, except ctrl+c."""

    def __init__(self, config: NetworkConfig | None = None,
                 model: NetworkModel | None = None,
                 network: NetworkHandle | None = None) -> None:
        """A live network from `config`, an attached `network`, or (tests, replays) a frozen
        `model` and no network."""
        super().__init__()
        self.network: NetworkHandle | None = network
        if model is None and network is None:  # VaultnetApp(): a live network, default size
            self.network = LiveNetwork(config or NetworkConfig())
        self.model = model or NetworkModel(self.network.capacity if self.network else 0,
                                           self.network.group_size if self.network else 4)
        self.guest = TrioGuest(self._crashed)
        self.handle_signals = False  # main() sets it: tests keep their own signal handlers
        self._held_keys: deque[events.Key] = deque()
        self._refused_keys = False
        self.paused = False
        self.filter_text = ""
        self._flow_seen = 0  # lines of the message log shown
        self._views: dict[str | None, tuple[str | type[Widget], Callable[[], None]]] = {
            "vaults-pane": (VaultTable, self._show_vaults),
            "chunks-pane": (ChunkTable, self._show_chunks),
            "flows-pane": ("#flow-log", self._show_flows),
            "evictions-pane": (EventTable, self._show_events),
            "ranking-pane": ("#ranking", self._show_ranking),
            "versions-pane": (VersionTable, self._show_versions)}
        """Each view's pane id -> the widget that gets the keyboard when it is shown, and how
        it is drawn."""
        self._last_sample = 0.0
        self._counter = 0  # makes the default texts of versions and messages differ
        self.status = "starting…" if self.network else "frozen"

    async def on_event(self, event: events.Event) -> None:
        """Keys from the terminal, in the order typed: held while a prompt is opening or
        closing (so none lands in the wrong place or is lost), else routed as usual."""
        if isinstance(event, events.Key) and not event.is_forwarded and event.key != "ctrl+c":
            if self._held_keys or self._holding():
                if len(self._held_keys) < MAX_HELD_KEYS:
                    self._held_keys.append(event)
                elif not self._refused_keys:
                    self._refused_keys = True
                    self.notify("too many keys typed ahead: the rest are refused",
                                severity="warning")
                return
            self._mark_answering(event)
        await super().on_event(event)

    def _holding(self) -> bool:
        screen = self.screen
        return isinstance(screen, AskScreen) and not screen.ready

    def _mark_answering(self, key: events.Key) -> None:
        """Enter or escape sent to a prompt answers it: hold what comes after."""
        if isinstance(self.screen, AskScreen) and key.key in CLOSE_KEYS:
            self.screen.closing = True

    async def on_keys_may_flow(self, _: KeysMayFlow) -> None:
        """Route the held keys in order until one opens (or answers) a prompt again."""
        while self._held_keys and not self._holding():
            event = self._held_keys.popleft()
            self._mark_answering(event)
            await super().on_event(event)
        self._refused_keys = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The App's keys are off while a prompt or the help is on top (they type there)."""
        return action in ("interrupt", "command_palette") or len(self.screen_stack) == 1

    async def action_footer_key(self, action: str) -> None:
        """A view's footer entry (clicked): the App's own action."""
        await self.run_action(action)

    async def action_interrupt(self) -> None:
        """ctrl+c quits from anywhere, a prompt included (Textual's default only hints)."""
        await self.action_quit()

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with TabbedContent(initial="vaults-pane"):
            with VaultsPane("1 Vaults", id="vaults-pane"):
                yield VaultTable()
                yield VaultDetail()
            with ChunksPane("2 Chunks & XOR", id="chunks-pane"), Horizontal():
                yield ChunkTable()
                yield XorView()
            with LogPane("3 Flows", id="flows-pane"):
                with VerticalScroll():
                    yield SpaceTime()
                yield FilteredLog(id="flow-log")
            with EventsPane("4 Evictions & churn", id="evictions-pane"):
                yield EventCounts()
                yield EventTable()
            with RankingPane("5 Ranking", id="ranking-pane"), VerticalScroll(id="ranking"):
                yield RankingView()
            yield VersionsPane("6 Versions & messages", id="versions-pane")
        yield Footer(compact=True, show_command_palette=False)

    # -- lifecycle: the trio guest is started on load and finished on unmount ---------------

    async def on_load(self) -> None:
        if self.network is not None:
            await self.guest.start(self._run_network)

    async def _run_network(self) -> None:
        assert self.network is not None
        await self.network.run(lambda: self.post_message(NetworkReady()))

    async def on_unmount(self) -> None:
        await self.guest.aclose()

    def on_mount(self) -> None:
        self.query_one(SummaryBar).set_interval(DRAIN_INTERVAL, self._drain)
        self._render_shown()
        self.query_one(VaultTable).focus()
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        """SIGTERM / SIGINT: exit the normal way, so the terminal is restored (alternate
        screen left, cursor shown, mouse tracking off) and the network shut down."""
        self.exit(return_code=128 + signum)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Give the shown view's main widget the keyboard (arrows move in it, not the tabs)."""
        view = self._views.get(event.pane.id)
        if view is not None:
            self.query_one(view[0]).focus()
        self._render_shown()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, with a screenshot that is saved where it can be (Textual's
        own goes to ~/Downloads, which may not exist)."""
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command
        yield SystemCommand("Screenshot", "Save an SVG of the screen in the data directory "
                            "(or the current one)", self.action_screenshot)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen and say where it went."""
        data_dir = self.network.data_dir if self.network else None
        directory = path or str(data_dir or Path.cwd())
        try:
            saved = self.save_screenshot(filename, directory)
        except OSError as exc:
            self.notify(f"screenshot failed: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"screenshot saved: {saved}")

    def _crashed(self, error: BaseException) -> None:
        leaves = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
        text = "; ".join(f"{type(e).__name__}: {e}" for e in leaves)
        what = ("lost the attached testnet" if all(isinstance(e, ControlError) for e in leaves)
                else "the network crashed")
        self.exit(return_code=1, message=f"vaultnet: error: {what}: {text}")

    def on_network_ready(self, _: NetworkReady) -> None:
        assert self.network is not None
        self.model.capacity, self.model.group_size = (self.network.capacity,
                                                      self.network.group_size)
        self.status = self.network.describe()
        self._sync_identities()
        self.notify(f"testnet up: {self.status}; press ? for help")

    def on_resize(self) -> None:
        width, height = self.size
        if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
            self.notify(f"terminal is {width}x{height}; the dashboard needs at least "
                        f"{MIN_SIZE[0]}x{MIN_SIZE[1]}", severity="warning")

    # -- the drain: events in batches, samples of the network, then one render ---------------

    def _drain(self) -> None:
        if self.network is None or not self.network.ready:
            return
        batch = self.network.drain(DRAIN_BATCH)
        self.model.ingest(batch)
        received = self.network.take_received()
        for message in received:
            self.model.message_received(message.recipient, message.sender, message.mid)
        changed = self._sync_identities()
        now = asyncio.get_running_loop().time()
        sampled = now - self._last_sample >= SAMPLE_INTERVAL and self._sample()
        if batch or sampled or received or changed:
            self.post_message(ModelRefreshed())

    def _sample(self) -> bool:
        """Sample the network into the model now (every SAMPLE_INTERVAL, and after an
        operation whose result is seen by sampling: a version tree); an attached network
        answers with its newest reading, if it has one the model has not seen. True if the
        model took a sample."""
        if self.network is None or not self.network.ready:
            return False
        reading = self.network.read(self.model.query())
        if reading is None:
            return False
        self._last_sample = asyncio.get_running_loop().time()
        self.model.observe(reading, self._last_sample)
        return True

    def _sync_identities(self) -> bool:
        """Copy the MPIDs' connection states into the model; True if one changed."""
        if self.network is None:
            return False
        changed = False
        for mpid in self.network.mpids().values():
            name = mpid.name
            if self.model.identity_state.get(name) != mpid.state:
                self.model.add_identity(name, mpid.label, mpid.state)
                changed = True
        return changed

    def on_model_refreshed(self, _: ModelRefreshed) -> None:
        if not self.paused:
            self._render_shown()

    def _render_shown(self) -> None:
        """Bring the summary bar and the view on screen up to date with the model. Hidden
        views are brought up to date when they are shown (`on_tabbed_content_tab_activated`):
        rendering all six on every refresh cost about 75 ms a time on this machine and, with
        the network on the same loop, slowed every message the vaults pass."""
        if not self.query(SummaryBar):
            return  # shutting down: the widgets are being removed one by one
        with self.batch_update():
            self.query_one(SummaryBar).show(self.model, self.paused, self.status)
            view = self._views.get(self.query_one(TabbedContent).active)
            if view is not None:
                view[1]()

    def _show_vaults(self) -> None:
        """View 1: the vault table and the selected vault's detail."""
        table = self.query_one(VaultTable)
        table.show(self.model)
        selected = table.selected_name()
        self.query_one(VaultDetail).show(self.model.vaults.get(selected) if selected else None)

    def _show_chunks(self) -> None:
        """View 2: the chunk table and the XOR view around the focus."""
        self.query_one(ChunkTable).show(self.model)
        self.query_one(XorView).show(self.model)

    def _show_flows(self) -> None:
        """View 3: the followed operation's space-time diagram and the message log."""
        self.query_one(SpaceTime).show(self.model)
        self.query_one("#flow-log", FilteredLog).append(self.model.flow.since(self._flow_seen))
        self._flow_seen = self.model.flow.total

    def _show_ranking(self) -> None:
        """View 5: the ranking."""
        self.query_one(RankingView).show(self.model)

    def _show_versions(self) -> None:
        """View 6: version trees, the selected tree, the MPIDs and their messages."""
        versions = self.query_one(VersionTable)
        versions.show(self.model)
        selection = versions.selected()
        self.query_one(VersionGroup).show(self.model.versioned.get(selection[0])
                                          if selection else None)
        self.query_one(IdentityBar).show(self.model)
        self.query_one(MessageTable).show(self.model)

    def _show_events(self) -> None:
        """View 4: the events table, then the counts and filter above it."""
        table = self.query_one(EventTable)
        table.show(self.model)
        self.query_one(EventCounts).show(self.model, table)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, ChunkTable) and event.row_key.value is not None:
            self.model.focus = bytes.fromhex(str(event.row_key.value))
        if not self.paused:
            self._render_shown()

    # -- actions -----------------------------------------------------------------------------

    def _start(self, what: str, operation: Callable[[], Awaitable[str]]) -> None:
        """Run `operation` as a trio task; its result or expected failure as a notification."""
        if self.network is None or not self.network.ready:
            self.notify("the network is not running yet", severity="warning")
            return

        async def run() -> None:
            try:
                message = await operation()
            except EXPECTED as exc:
                self.notify(f"{what} failed: {exc}", severity="error")
                return
            self.notify(message)
            self._drain()

        self.guest.start_soon(run)

    def _selected_vault(self) -> bytes | None:
        name = self.query_one(VaultTable).selected_name()
        if name is None:
            self.notify("no vault selected (tab 1, arrow keys)", severity="warning")
        return name

    def _selected_chunk(self) -> bytes | None:
        name = self.query_one(ChunkTable).selected_name()
        if name is None:
            self.notify("no chunk selected: put one with p, then choose it in tab 2",
                        severity="warning")
        return name

    def action_put(self) -> None:
        self.push_screen(AskScreen("put: a size in bytes (4096, 64K, 1M) or a file path",
                                   "4096"), self._put)

    def _put(self, answer: str | None) -> None:
        if not answer:
            return
        self.run_worker(self._read_and_put(answer.strip()), group="put")

    async def _read_and_put(self, answer: str) -> None:
        """Make the chunk in a thread (a file is read there, bounded: the UI loop and the
        network on it never wait for a disk or a device), then put it on the network."""
        try:
            data = await asyncio.to_thread(self._data_for, answer)
        except PutInputError as exc:
            self.notify(str(exc), severity="error")
            return
        if self.network is None:
            return
        network = self.network

        async def put() -> str:
            name, trace = await network.put(data)
            self.model.add_chunk(name, len(data), trace)
            return f"stored chunk {name.hex()[:16]} ({len(data)} bytes)"

        self._start("put", put)

    @staticmethod
    def _data_for(answer: str) -> bytes:
        """Random bytes of a size, or a file's content (a regular file, read at most up to
        the chunk limit); PutInputError says what is wrong. Runs in a worker thread."""
        if not answer[:1].isdigit():
            try:
                return read_chunk_file(Path(answer).expanduser())
            except ChunkInputError as exc:
                raise PutInputError(str(exc)) from None
        try:
            size = parse_size(answer)
        except ChunkInputError as exc:
            raise PutInputError(str(exc)) from None
        if not 0 < size <= MAX_PUT:
            raise PutInputError(f"a chunk must be 1 byte to {MAX_PUT // 1024} KiB")
        return os.urandom(size)

    def action_get(self) -> None:
        if (name := self._selected_chunk()) is None or self.network is None:
            return
        network = self.network

        async def get() -> str:
            size = await network.get(name)
            return f"got chunk {name.hex()[:16]}: {size} bytes, content matches its name"

        self._start("get", get)

    def _confirm(self, question: str, then: Callable[[], None]) -> None:
        """Ask before something that cannot be undone: y (or yes) runs `then`."""
        def answered(answer: str | None) -> None:
            if answer is not None and answer.strip().lower() in ("y", "yes"):
                then()
            else:
                self.notify("cancelled")

        self.push_screen(AskScreen(f"{question} y / n", "n"), answered)

    def action_delete(self) -> None:
        if (name := self._selected_chunk()) is None:
            return
        self._confirm(f"delete chunk {name.hex()[:16]} from the network?",
                      lambda: self._delete(name))

    def _delete(self, name: bytes) -> None:
        async def delete() -> str:
            assert self.network is not None
            await self.network.delete(name)
            self.model.mark_deleted(name)
            return f"deleted chunk {name.hex()[:16]}"

        self._start("delete", delete)

    def action_follow(self) -> None:
        """Follow the operation of the selected chunk, or in view 6 of the selected version
        tree (its latest operation) or message (its delivery, else its send; pressed again in
        view 6, the send of a message delivered later)."""
        if self.query_one(TabbedContent).active == "versions-pane":
            trace = self._followable()
            if trace is None:
                return
        elif (name := self._selected_chunk()) is None:
            return
        else:
            trace = self.model.chunks[name].trace
        self.model.followed_trace = trace
        self.action_tab("flows")
        self._render_shown()

    def _followable(self) -> bytes | None:
        if isinstance(self.focused, MessageTable):
            row = self.focused.selected_name()
            if row is None or row not in self.model.messages:
                self.notify("no message selected: send one with m", severity="warning")
                return None
            message = self.model.messages[row]
            latest = message.delivery_trace or message.trace
            if self.model.followed_trace == latest:  # pressed again: the other one
                return message.trace if latest != message.trace else latest
            return latest
        selection = self.query_one(VersionTable).selected()
        item = self.model.versioned.get(selection[0]) if selection else None
        if item is None or item.trace is None:
            self.notify("no version tree operation to follow: select a tree (tab 6), or "
                        "the message table (tab key) for a message", severity="warning")
            return None
        return item.trace

    def action_xor_focus(self) -> None:
        active = self.query_one(TabbedContent).active
        table = ChunkTable if active == "chunks-pane" else VaultTable
        name = self.query_one(table).selected_name()
        if name is None:
            self.notify("select a vault or a chunk first", severity="warning")
            return
        self.model.focus = name
        self._sample()
        self.model.refocus()
        self.action_tab("chunks")
        self._render_shown()

    def action_add(self) -> None:
        async def add() -> str:
            assert self.network is not None
            return f"added vault {(await self.network.add_vault()).hex()[:16]}"

        self._start("add", add)

    def action_kill(self) -> None:
        if (name := self._selected_vault()) is None:
            return
        self._confirm(f"kill vault {name.hex()[:16]}?", lambda: self._kill(name))

    def _kill(self, name: bytes) -> None:
        async def kill() -> str:
            assert self.network is not None
            await self.network.kill_vault(name)
            return f"killed vault {name.hex()[:16]}"

        self._start("kill", kill)

    def action_restart(self) -> None:
        if (name := self._selected_vault()) is None:
            return

        async def restart() -> str:
            assert self.network is not None
            await self.network.restart_vault(name)
            return f"restarted vault {name.hex()[:16]} with its data"

        self._start("restart", restart)

    def action_fault(self) -> None:
        if (name := self._selected_vault()) is None:
            return
        kinds = ", ".join(f.value for f in Fault)
        self.push_screen(AskScreen(f"fault for {name.hex()[:16]}: {kinds}", "lie"),
                         lambda kind: self._fault(name, kind))

    def _fault(self, name: bytes, kind: str | None) -> None:
        if not kind:
            return

        async def fault() -> str:
            assert self.network is not None
            await self.network.fault(name, kind)
            return f"{kind}: vault {name.hex()[:16]}"

        self._start("fault", fault)

    # -- version trees (view 6) ---------------------------------------------------------------

    def action_version_new(self) -> None:
        self._counter += 1
        self.push_screen(AskScreen("new version tree: a NAME for it (its key is the name's "
                                   "hash), then the text of its first version",
                                   f"notes-{self._counter} first draft"), self._version_new)

    def _version_new(self, answer: str | None) -> None:
        if answer is None:
            return
        label, _, text = answer.strip().partition(" ")
        if not label:
            self.notify("a version tree needs a name", severity="error")
            return
        self._put_version(name_of(label.encode()), label, None, text or f"{label} v0")

    def action_version_put(self) -> None:
        if (selection := self._selected_version()) is None:
            return
        item, version = selection
        parent = version or item.newest_tip()
        where = (f"under v{parent.index} {short(parent.id)}"
                 f"{' (a fork: it has a child already)' if item.children(parent) else ''}"
                 if parent else "as the root of the empty tree")
        index = 0 if parent is None else parent.index + 1
        self._counter += 1
        self.push_screen(AskScreen(f"put a version of {item.label} {where}: its text",
                                   f"{item.label} v{index} draft {self._counter}"),
                         lambda text: self._version_text(item.key, item.label, parent, text))

    def _version_text(self, key: bytes, label: str, parent: VersionName | None,
                      text: str | None) -> None:
        if text is None:
            return
        if not text.strip():
            self.notify("a version needs some text", severity="error")
            return
        self._put_version(key, label, parent, text)

    def _put_version(self, key: bytes, label: str, parent: VersionName | None,
                     text: str) -> None:
        data = text.encode()
        if len(data) > MAX_PUT:
            self.notify(f"a version's text must be at most {MAX_PUT // 1024} KiB",
                        severity="error")
            return
        item = self.model.versioned.get(key)
        index = 0 if parent is None else parent.index + 1
        if item is not None and VersionName(index, name_of(data)) in item.parents:
            self.notify(f"v{index} with this text is in {label} already: change the text",
                        severity="error")
            return
        if self.network is None or not self.network.ready:
            self.notify("the network is not running yet", severity="warning")
            return
        network, model = self.network, self.model
        trace = network.new_trace()
        if item is not None:
            model.track_versioned(key, trace=trace)
        model.followed_trace = trace

        async def put() -> str:
            version, chunk_trace = await network.put_version(key, parent, data, trace)
            model.track_versioned(key, label, trace)  # a new tree: once it exists
            model.add_chunk(version.id, len(data), chunk_trace, follow=False)
            self._sample()
            if not self.paused:
                self._show_versions()
                self.query_one(VersionTable).select(key, version)  # v puts its child next
            return f"{label}: put v{version.index} {short(version.id)}"

        self._start("put version", put)

    def action_version_delete(self) -> None:
        if (selection := self._selected_version()) is None:
            return
        item, tip = selection
        if tip is None or tip not in item.tips:
            self.notify("select a tip (a version without children) to delete its branch",
                        severity="warning")
            return
        assert self.network is not None
        network, model = self.network, self.model
        trace = network.new_trace()
        model.track_versioned(item.key, trace=trace)
        model.followed_trace = trace

        async def delete() -> str:
            removed = await network.delete_branch(item.key, tip, trace)
            for version in removed:
                model.mark_deleted(version.id)
            self._sample()
            gone = f"{len(removed)} version{'' if len(removed) == 1 else 's'}"
            return f"{item.label}: deleted the branch of v{tip.index} ({gone} removed)"

        self._start("delete branch", delete)

    def _selected_version(self) -> tuple[VersionedItem, VersionName | None] | None:
        if self.network is None or not self.network.ready:
            self.notify("the network is not running yet", severity="warning")
            return None
        selection = self.query_one(VersionTable).selected()
        item = self.model.versioned.get(selection[0]) if selection else None
        if selection is None or item is None:
            self.notify("no version tree selected: create one with n, then choose a version "
                        "in tab 6", severity="warning")
            return None
        return item, selection[1]

    # -- messages between the dashboard's MPIDs (view 6) --------------------------------------

    def action_message(self) -> None:
        self._counter += 1
        names = " or ".join(MPIDS)
        self.push_screen(AskScreen(f"send a message: FROM TO TEXT (FROM and TO: {names})",
                                   f"alice bob hello bob ({self._counter})"), self._message)

    def _message(self, answer: str | None) -> None:
        if answer is None:
            return
        words = answer.split(maxsplit=2)
        if self.network is None or not self.network.ready:
            self.notify("the network is not running yet", severity="warning")
            return
        network, model = self.network, self.model
        try:
            if len(words) < 3:
                raise ValueError("say who sends, to whom and what: alice bob hello")
            states = network.mpids()
            sender, recipient, text = pick(states, words[0]), pick(states, words[1]), words[2]
            if len(text.encode()) > MAX_BODY:
                raise ValueError(f"a message is at most {MAX_BODY // 1024} KiB")
            if not sender.online:
                hint = "wait a moment" if sender.changing else f"o brings {sender.label} back"
                raise ValueError(f"{sender.label} is {sender.state}: a sender must be online "
                                 f"({hint})")
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        trace = network.new_trace()
        model.add_message(trace, sender.name, recipient.name, text)
        model.followed_trace = trace
        if not self.paused:
            self._render_shown()

        async def send() -> str:
            try:
                await network.send(sender.label, recipient.label, text.encode(), trace)
            except EXPECTED as exc:
                model.message_failed(trace, str(exc))
                raise
            held = "" if recipient.online else f" (held: {recipient.label} is offline)"
            return f"{sender.label} → {recipient.label}: sent{held}"

        self._start("send", send)

    def action_online(self) -> None:
        if self.network is None or not self.network.ready:
            self.notify("the network is not running yet", severity="warning")
            return
        states = ", ".join(f"{m.label} is {m.state}" for m in self.network.mpids().values())
        self.push_screen(AskScreen(f"take offline / bring online which MPID? ({states})",
                                   MPIDS[-1]), self._online)

    def _online(self, answer: str | None) -> None:
        if not answer or self.network is None:
            return
        network = self.network
        try:
            mpid = pick(network.mpids(), answer)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        trace = network.new_trace()
        if not mpid.online:
            self.model.followed_trace = trace  # coming back: the managers push what they held

        async def toggle() -> str:
            if await network.toggle(mpid.label, trace):
                return f"{mpid.label} is online: its MpidManagers push what they held"
            return f"{mpid.label} is offline: messages to {mpid.label} are held"

        self._start("online / offline", toggle)

    def action_filter(self) -> None:
        """Filter view 4's events while it is shown, else the message log (view 3)."""
        if self.query_one(TabbedContent).active == "evictions-pane":
            words = " ".join(self.query_one(EventTable).words)
            self.push_screen(AskScreen("filter the events (words that must all appear: kind, "
                                       "vault or copy prefix, trace prefix, reason; empty shows "
                                       "all)", words), self._filter_events)
            return
        self.push_screen(AskScreen("filter the message log (words that must all appear; "
                                   "empty shows all)", self.filter_text), self._filter)

    def _filter(self, text: str | None) -> None:
        if text is None:
            return
        self.filter_text = text
        self.query_one("#flow-log", FilteredLog).set_filter(text, self.model.flow.lines)
        self.action_tab("flows")

    def _filter_events(self, text: str | None) -> None:
        if text is None:
            return
        self.query_one(EventTable).set_words(text)
        self._show_events()

    def action_event_kind(self) -> None:
        """View 4 narrowed to the next kind of event (after the last: every kind), shown."""
        self.query_one(EventTable).cycle_kind()
        self._show_events()
        self.action_tab("evictions")

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            log = self.query_one("#flow-log", FilteredLog)
            log.set_filter(" ".join(log.words), self.model.flow.lines)
            self._flow_seen = self.model.flow.total
        self._render_shown()

    def action_tab(self, tab: str) -> None:
        """Show a view and give its main widget the keyboard, so arrows move in it."""
        self.query_one(TabbedContent).active = f"{tab}-pane"

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def main(vaults: int = 16, transport: str = "tcp", seed: int | None = None,
         capacity: int | None = None, data_dir: Path | None = None,
         record: Path | None = None, replay: Path | None = None,
         attach: NetworkHandle | None = None) -> int:
    """Run the dashboard on a new embedded testnet (written to `record` if given), on the
    recording `replay`, or on the running testnet `attach`; the exit code (1 if the network
    crashed or went away)."""
    if replay is not None:
        from tui.replay_app import replay_main  # tui.replay_app imports this module

        return replay_main(replay)
    config = NetworkConfig(vaults, transport, seed, capacity or NetworkConfig.capacity, data_dir)
    if record is not None:
        from tui.replay_app import record_main

        return record_main(config, record)
    app = VaultnetApp(config, network=attach)
    app.handle_signals = True
    app.run()
    return app.return_code or 0
