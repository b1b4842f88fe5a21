"""The live side of the dashboard App: the trio guest that runs the embedded testnet (or
reaches an attached one), the drain of its events into the model, samples of it, the
operations the views start on it, and its end (a crash, a lost testnet, a signal).

Decisions: the drain runs every DRAIN_INTERVAL and takes at most DRAIN_BATCH events per tick
(the subscription buffer is bounded, overflow is counted); the network is sampled every
SAMPLE_INTERVAL; pausing (space) freezes the views while the drain keeps folding events into the
model, so nothing is lost and the network never waits for the screen.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

from tui.guest import TrioGuest
from tui.messages import ModelRefreshed, NetworkReady
from tui.model import NetworkModel
from tui.network import LiveNetwork, NetworkConfig
from tui.structured import structured_rows
from tui.typeahead import TypeAheadApp
from tui.views.base import EXPECTED
from vaultnet.control.client import ControlError
from vaultnet.control.handle import NetworkHandle

DRAIN_INTERVAL = 0.1
DRAIN_BATCH = 20_000
SAMPLE_INTERVAL = 1.0


class LiveApp(TypeAheadApp):
    """An App on a network (or, frozen, on a model alone): its lifecycle, drain and
    operations. The dashboard (`tui.app.VaultnetApp`) adds the views."""

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
        self.paused = False
        self._last_sample = 0.0
        self.status = "starting…" if self.network else "frozen"

    # -- lifecycle: the trio guest is started on load and finished on unmount ---------------

    async def on_load(self) -> None:
        """Start the network in the trio guest (if the dashboard has one)."""
        if self.network is not None:
            await self.guest.start(self._run_network)

    async def _run_network(self) -> None:
        assert self.network is not None
        await self.network.run(lambda: self.post_message(NetworkReady()))

    async def on_unmount(self) -> None:
        """Stop the network and the trio guest."""
        await self.guest.aclose()

    def take_signals(self) -> None:
        """Quit cleanly on SIGTERM, SIGINT and SIGHUP (its terminal closed), if
        `handle_signals` (main() sets it), so a testnet it started is stopped too."""
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        """SIGTERM / SIGINT / SIGHUP: exit the normal way, so the terminal is restored (alternate
        screen left, cursor shown, mouse tracking off) and the network shut down."""
        self.exit(return_code=128 + signum)

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
        attached = self.network is not None and self.network.attached
        what = ("the network crashed" if not all(isinstance(e, ControlError) for e in leaves)
                else "lost the attached testnet" if attached else "lost its testnet process")
        self.exit(return_code=1, message=f"vaultnet: error: {what}: {text}")

    def on_network_ready(self, _: NetworkReady) -> None:
        """The network is up: take its size, show its MPIDs, say how to get help."""
        assert self.network is not None
        self.model.capacity, self.model.group_size = (self.network.capacity,
                                                      self.network.group_size)
        self.status = self.network.describe()
        self._sync_identities()
        self.notify(f"testnet up: {self.status}; press ? for help, T for a guided tour")

    # -- the drain: events in batches, samples of the network, then one render ---------------

    def drain(self) -> None:
        """Fold the events drained from the network into the model (every DRAIN_INTERVAL),
        sample it every SAMPLE_INTERVAL, and say when the model changed."""
        if self.network is None or not self.network.ready:
            return
        batch = self.network.drain(DRAIN_BATCH)
        self.model.ingest(batch)
        received = self.network.take_received()
        for message in received:
            self.model.message_received(message.recipient, message.sender, message.mid)
        changed = self._sync_identities()
        now = asyncio.get_running_loop().time()
        sampled = now - self._last_sample >= SAMPLE_INTERVAL and self.sample()
        if batch or sampled or received or changed:
            self.post_message(ModelRefreshed())

    def sample(self) -> bool:
        """Sample the network into the model now (every SAMPLE_INTERVAL, and after an
        operation whose result is seen by sampling: a version tree, a structured data record);
        a network in another process answers with its newest reading, if it has one the model
        has not seen. True if the model took a sample."""
        if self.network is None or not self.network.ready:
            return False
        reading = self.network.read(self.model.query())
        if reading is None:
            return False
        self._last_sample = asyncio.get_running_loop().time()
        self.model.observe(reading, self._last_sample,
                           structured_rows(reading, self.network.owner_key()))
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

    # -- operations: the views' actions run here as trio tasks -------------------------------

    def start_operation(self, what: str, operation: Callable[[], Awaitable[str]]) -> None:
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
            self.drain()

        self.guest.start_soon(run)

