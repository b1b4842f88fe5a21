"""View 6: version trees (left: the trees, right: the selected item's VersionManager group) and
messages (the dashboard's MPIDs, then every message with its state). Its keys are the App's
(they work from every view); binding them here too shows them first in the footer here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import TabPane

from tui.widgets.identity_bar import IdentityBar
from tui.widgets.message_table import MessageTable
from tui.widgets.panes import footer_keys
from tui.widgets.version_group import VersionGroup
from tui.widgets.version_table import VersionTable

KEYS = (("n", "version_new", "new tree"), ("v", "version_put", "version"),
        ("b", "version_delete", "del branch"), ("m", "message", "message"),
        ("o", "online", "on/off"), ("t", "follow", "follow"))


class VersionsPane(TabPane):
    DEFAULT_CSS = """
    VersionsPane > Horizontal { height: 1fr; }
    VersionsPane > Horizontal > VersionTable { width: 2fr; }
    VersionsPane > Horizontal > VersionGroup { width: 1fr; max-width: 48; }
    VersionsPane > MessageTable { height: 1fr; }
    """
    BINDINGS = footer_keys(KEYS)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield VersionTable()
            yield VersionGroup()
        yield IdentityBar()
        yield MessageTable()
