"""The command palette (ctrl+p): every key's action, found by its description or its key."""

from __future__ import annotations

from textual.binding import Binding
from textual.command import Hit, Hits, Provider


class Actions(Provider):
    """Every key's action in the command palette."""

    async def search(self, query: str) -> Hits:
        """The App's keys whose description (or key) matches `query`."""
        app = self.app
        matcher = self.matcher(query)
        for binding in app.BINDINGS:
            assert isinstance(binding, Binding)
            key = binding.key_display or app.get_key_display(binding)
            if (score := matcher.match(f"{binding.description} {key}")) > 0:
                yield Hit(score, matcher.highlight(binding.description),
                          lambda action=binding.action: app.run_action(action),
                          help=f"key {key}")
