"""`vaultnet tui`: the dashboard App. It owns the trio guest that runs the embedded testnet,
drains the event stream on a timer in batches into the `NetworkModel`, and re-renders the
views from the model; keys start network operations as trio tasks.

Decisions: the drain runs every DRAIN_INTERVAL and takes at most DRAIN_BATCH events per tick
(the subscription buffer is bounded, overflow is counted); the network is sampled every
SAMPLE_INTERVAL; pausing (space) freezes the views while the drain keeps folding events into the
model, so nothing is lost and the network never waits for the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from tui.guest import TrioGuest
from tui.messages import ModelRefreshed, NetworkReady
from tui.model import NetworkModel
from tui.network import LiveNetwork, NetworkConfig
from tui.screens.ask import AskScreen
from tui.screens.help import HelpScreen
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.flow_log import FilteredLog
from tui.widgets.ranking import RankingView
from tui.widgets.space_time import SpaceTime
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultDetail, VaultTable
from tui.widgets.xor_view import XorView
from vaultnet.cli import byte_size
from vaultnet.client import ClientError
from vaultnet.faults import Fault
from vaultnet.testnet import TestnetError
from vaultnet.wire import MAX_FRAME_SIZE

DRAIN_INTERVAL = 0.1
DRAIN_BATCH = 20_000
SAMPLE_INTERVAL = 1.0
MAX_PUT = MAX_FRAME_SIZE // 4
MIN_SIZE = (80, 24)
EXPECTED = (ClientError, TestnetError, OSError)
"""Failures of an operation the user asked for: shown as a notification, never a crash."""

TABS = ("vaults", "chunks", "flows", "evictions", "ranking")


class Actions(Provider):
    """Every key's action in the command palette."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, VaultnetApp)
        matcher = self.matcher(query)
        for binding in app.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.description and (score := matcher.match(binding.description)) > 0:
                yield Hit(score, matcher.highlight(binding.description),
                          lambda action=binding.action: app.run_action(action))


class VaultnetApp(App[None]):
    TITLE = "vaultnet"
    COMMANDS = App.COMMANDS | {Actions}
    CSS = """
    TabbedContent, TabbedContent > ContentSwitcher, TabPane { height: 1fr; }
    TabPane { padding: 0; }
    #chunks-pane > Horizontal > ChunkTable { width: 1fr; }
    #chunks-pane > Horizontal > XorView { width: 1fr; }
    #flows-pane > VerticalScroll { height: 1fr; }
    #flows-pane > FilteredLog { height: 1fr; border-top: solid $primary; }
    """
    BINDINGS = [
        Binding("p", "put", "put"),
        Binding("g", "get", "get chunk"),
        Binding("d", "delete", "delete chunk"),
        Binding("t", "follow", "follow chunk"),
        Binding("x", "xor_focus", "XOR view"),
        Binding("a", "add", "add vault"),
        Binding("k", "kill", "kill vault"),
        Binding("r", "restart", "restart vault"),
        Binding("f", "fault", "fault"),
        Binding("slash", "filter", "filter log"),
        Binding("space", "pause", "pause"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        *(Binding(str(i), f"tab('{tab}')", tab, show=False)
          for i, tab in enumerate(TABS, start=1)),
    ]

    def __init__(self, config: NetworkConfig | None = None,
                 model: NetworkModel | None = None) -> None:
        """A live network from `config`, or (tests, replays) a frozen `model` and no network."""
        super().__init__()
        self.network = LiveNetwork(config) if model is None else None
        capacity = config.capacity if config else 0
        self.model = model or NetworkModel(capacity, self.network.net.params.group_size
                                           if self.network else 4)
        self.guest = TrioGuest(self._crashed)
        self.paused = False
        self.filter_text = ""
        self._seen = {"flow-log": 0, "notable-log": 0}
        self._last_sample = 0.0
        self.status = "starting…" if self.network else "frozen"

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SummaryBar()
        with TabbedContent(initial="vaults-pane"):
            with TabPane("1 Vaults", id="vaults-pane"):
                yield VaultTable()
                yield VaultDetail()
            with TabPane("2 Chunks & XOR", id="chunks-pane"), Horizontal():
                yield ChunkTable()
                yield XorView()
            with TabPane("3 Flows", id="flows-pane"):
                with VerticalScroll():
                    yield SpaceTime()
                yield FilteredLog(id="flow-log")
            with TabPane("4 Evictions & churn", id="evictions-pane"):
                yield FilteredLog(id="notable-log")
            with TabPane("5 Ranking", id="ranking-pane"), VerticalScroll():
                yield RankingView()
        yield Footer()

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
        self._render_all()

    def _crashed(self, error: BaseException) -> None:
        leaves = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
        text = "; ".join(f"{type(e).__name__}: {e}" for e in leaves)
        self.exit(return_code=1, message=f"vaultnet: error: the network crashed: {text}")

    def on_network_ready(self, _: NetworkReady) -> None:
        assert self.network is not None
        net = self.network.net
        self.status = f"{net.transport} {len(net.vaults)} vaults"
        self.notify(f"testnet up: {len(net.vaults)} vaults on {net.transport}; press ? for help")

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
        now = asyncio.get_running_loop().time()
        sampled = now - self._last_sample >= SAMPLE_INTERVAL
        if sampled:
            self._last_sample = now
            self.model.observe(self.network.net, now)
        if batch or sampled:
            self.post_message(ModelRefreshed())

    def on_model_refreshed(self, _: ModelRefreshed) -> None:
        if not self.paused:
            self._render_all()

    def _render_all(self) -> None:
        model = self.model
        with self.batch_update():
            self.query_one(SummaryBar).show(model, self.paused, self.status)
            table = self.query_one(VaultTable)
            table.show(model)
            selected = table.selected_name()
            self.query_one(VaultDetail).show(model.vaults.get(selected) if selected else None)
            self.query_one(ChunkTable).show(model)
            self.query_one(XorView).show(model)
            self.query_one(SpaceTime).show(model)
            self.query_one(RankingView).show(model)
            for log_id, log in (("flow-log", model.flow), ("notable-log", model.notable)):
                self.query_one(f"#{log_id}", FilteredLog).append(log.since(self._seen[log_id]))
                self._seen[log_id] = log.total

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, ChunkTable) and event.row_key.value is not None:
            self.model.focus = bytes.fromhex(str(event.row_key.value))
        if not self.paused:
            self._render_all()

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
        try:
            data = self._data_for(answer.strip())
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        assert self.network is not None
        network = self.network

        async def put() -> str:
            name, trace = await network.put(data)
            self.model.add_chunk(name, len(data), trace)
            return f"stored chunk {name.hex()[:16]} ({len(data)} bytes)"

        self._start("put", put)

    @staticmethod
    def _data_for(answer: str) -> bytes:
        """Random bytes of a size, or a file's content; ValueError says what is wrong."""
        if answer[:1].isdigit():
            try:
                size = byte_size(answer)
            except argparse.ArgumentTypeError as exc:
                raise ValueError(str(exc)) from None
            data = os.urandom(size) if size <= MAX_PUT else b""
        else:
            path = Path(answer).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not data or len(data) > MAX_PUT:
            raise ValueError(f"a chunk must be 1 byte to {MAX_PUT // 1024} KiB")
        return data

    def action_get(self) -> None:
        if (name := self._selected_chunk()) is None or self.network is None:
            return
        network = self.network

        async def get() -> str:
            data = await network.get(name)
            return f"got chunk {name.hex()[:16]}: {len(data)} bytes, content matches its name"

        self._start("get", get)

    def action_delete(self) -> None:
        if (name := self._selected_chunk()) is None or self.network is None:
            return
        network = self.network

        async def delete() -> str:
            await network.delete(name)
            self.model.mark_deleted(name)
            return f"deleted chunk {name.hex()[:16]}"

        self._start("delete", delete)

    def action_follow(self) -> None:
        if (name := self._selected_chunk()) is None:
            return
        self.model.followed_trace = self.model.chunks[name].trace
        self.action_tab("flows")
        self._render_all()

    def action_xor_focus(self) -> None:
        active = self.query_one(TabbedContent).active
        table = ChunkTable if active == "chunks-pane" else VaultTable
        name = self.query_one(table).selected_name()
        if name is None:
            self.notify("select a vault or a chunk first", severity="warning")
            return
        self.model.focus = name
        if self.network is not None and self.network.ready:
            self.model.observe(self.network.net, asyncio.get_running_loop().time())
        self.action_tab("chunks")
        self._render_all()

    def action_add(self) -> None:
        async def add() -> str:
            assert self.network is not None
            vault = await self.network.net.add_vault()
            return f"added vault {vault.name.hex()[:16]}"

        self._start("add", add)

    def action_kill(self) -> None:
        if (name := self._selected_vault()) is None:
            return

        async def kill() -> str:
            assert self.network is not None
            await self.network.net.kill_vault(name)
            return f"killed vault {name.hex()[:16]}"

        self._start("kill", kill)

    def action_restart(self) -> None:
        if (name := self._selected_vault()) is None:
            return

        async def restart() -> str:
            assert self.network is not None
            await self.network.net.restart_vault(name)
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
            self.network.net.fault(name, kind)
            return f"{kind}: vault {name.hex()[:16]}"

        self._start("fault", fault)

    def action_filter(self) -> None:
        self.push_screen(AskScreen("filter the message log (words that must all appear; "
                                   "empty shows all)", self.filter_text), self._filter)

    def _filter(self, text: str | None) -> None:
        if text is None:
            return
        self.filter_text = text
        self.query_one("#flow-log", FilteredLog).set_filter(text, self.model.flow.lines)
        self.action_tab("flows")

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            for log_id, log in (("flow-log", self.model.flow),
                                ("notable-log", self.model.notable)):
                widget = self.query_one(f"#{log_id}", FilteredLog)
                widget.set_filter(" ".join(widget.words), log.lines)
                self._seen[log_id] = log.total
        self._render_all()

    def action_tab(self, tab: str) -> None:
        """Show a view and give its main widget the keyboard, so arrows move in it."""
        self.query_one(TabbedContent).active = f"{tab}-pane"
        focus = {"vaults": VaultTable, "chunks": ChunkTable}.get(tab)
        if focus is not None:
            self.query_one(focus).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def main(vaults: int = 16, transport: str = "tcp", seed: int | None = None,
         capacity: int | None = None, data_dir: Path | None = None) -> int:
    """Run the dashboard on a new embedded testnet; the exit code (1 if the network crashed)."""
    config = NetworkConfig(vaults, transport, seed, capacity or NetworkConfig.capacity, data_dir)
    app = VaultnetApp(config)
    app.run()
    return app.return_code or 0
