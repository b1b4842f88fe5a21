"""The views as TabPanes that carry their own keys. Every key is the App's (it works from
every view); binding it on a pane too, with a short label, shows it in the footer while that
view is shown, so each view's footer lists only its own keys (plus ? and q) and fits 80
columns."""

from __future__ import annotations

from textual.binding import Binding, BindingType
from textual.widgets import TabPane

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


class VaultsPane(TabPane):
    BINDINGS = footer_keys((("a", "add", "add"), ("K", "kill", "kill"),
                            ("r", "restart", "restart"), ("f", "fault", "fault"),
                            ("x", "xor_focus", "XOR"), ("p", "put", "put")))


class ChunksPane(TabPane):
    BINDINGS = footer_keys((("p", "put", "put"), ("g", "get", "get"), ("D", "delete", "delete"),
                            ("t", "follow", "follow"), ("x", "xor_focus", "XOR")))


class LogPane(TabPane):
    """View 3: a log to filter and a display to pause."""

    BINDINGS = footer_keys((("slash", "filter", "filter"), ("space", "pause", "pause")))


class EventsPane(TabPane):
    """View 4: the events table, narrowed to a kind (c) or to words (/), and pause."""

    BINDINGS = footer_keys((("c", "event_kind", "kind"), ("slash", "filter", "filter"),
                            ("space", "pause", "pause")))


class RankingPane(TabPane):
    BINDINGS = footer_keys((("space", "pause", "pause"),))
