"""A view of the dashboard: a TabPane that draws itself from the model and owns the actions of
its keys.

Every key is the App's (it works from every view, as a priority binding: see `VaultnetApp`);
the App hands each action to the view that owns it. Binding a view's keys on its pane too,
with a short label, shows them in the footer while that view is shown, so each view's footer
lists only its own keys (plus ? and q) and fits 80 columns. A view reaches the App only
through `Dashboard`: the network, the model and the few services the views share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import TabPane

from tui.model import NetworkModel
from tui.screens.ask import AskScreen
from vaultnet.client.maid import ClientError
from vaultnet.control.client import ControlError
from vaultnet.control.handle import NetworkHandle
from vaultnet.runtime.testnet import TestnetError

EXPECTED = (ClientError, TestnetError, ControlError, OSError)
"""Failures of an operation the user asked for: shown as a notification, never a crash."""

Keys = tuple[tuple[str, str, str], ...]
"""(key, App action, footer label) of one view."""


def footer_keys(keys: Keys) -> list[BindingType]:
    """Bindings that run the App's actions, shown in the footer of one view. They are priority
    bindings like the App's (the footer shows a priority binding over a plain one); a key
    finds the App's own first and runs it. Each names its action through the App's
    `footer_key`, so an App can leave out of the footer the keys it refuses (a replay's
    network keys) while those keys still reach it."""
    return [Binding(key, f"app.footer_key({action!r})", label, priority=True)
            for key, action, label in keys]


class Dashboard(Protocol):
    """What a view may use of the App."""

    network: NetworkHandle | None
    model: NetworkModel
    paused: bool

    def start_operation(self, what: str, operation: Callable[[], Awaitable[str]]) -> None:
        """Run `operation` on the network; its result or failure as a notification."""

    def sample(self) -> bool:
        """Sample the network into the model now; True if it took a sample."""

    def render_shown(self) -> None:
        """Bring the summary bar and the shown view up to date with the model."""

    def action_tab(self, tab: str) -> None:
        """Show a view (by its name in `TABS`)."""


class View(TabPane):
    """One view: `MAIN` gets the keyboard when it is shown, `show` draws it from the model."""

    MAIN: str | type[Widget] = Widget

    @property
    def dashboard(self) -> Dashboard:
        """The App, as the views see it."""
        return cast(Dashboard, self.app)

    @property
    def model(self) -> NetworkModel:
        """The model the dashboard shows."""
        return self.dashboard.model

    def show(self) -> None:
        """Draw the view from the model."""

    def focus_main(self) -> None:
        """Give the view's main widget the keyboard (arrows move in it, not the tabs)."""
        for widget in self.query(self.MAIN).results():  # none while the App shuts down
            widget.focus()
            break

    def live_network(self) -> NetworkHandle | None:
        """The network if it is up, else None (and the user is told)."""
        network = self.dashboard.network
        if network is None or not network.ready:
            self.notify("the network is not running yet", severity="warning")
            return None
        return network

    def ask(self, question: str, default: str, then: Callable[[str | None], None]) -> None:
        """A one-line prompt; `then` gets the answer (None if cancelled)."""
        self.app.push_screen(AskScreen(question, default), then)

    def confirm(self, question: str, then: Callable[[], None]) -> None:
        """Ask before something that cannot be undone: y (or yes) runs `then`."""
        def answered(answer: str | None) -> None:
            if answer is not None and answer.strip().lower() in ("y", "yes"):
                then()
            else:
                self.notify("cancelled")

        self.ask(f"{question} y / n", "n", answered)
