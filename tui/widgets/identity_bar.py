"""The dashboard's own MPIDs (alice, bob): their names and whether each is online."""

from __future__ import annotations

from tui.model import NetworkModel
from tui.widgets.panel import Panel
from vaultnet.xor import short

STATES = {"online": "[green]online[/]", "offline": "[red]offline[/]"}


class IdentityBar(Panel):
    """The dashboard's MPIDs and whether each is online."""

    DEFAULT_CSS = "IdentityBar { height: 2; padding: 0 1; border-top: solid $primary; }"

    def show(self, model: NetworkModel) -> None:
        """Draw it from the model."""
        if not model.identities:
            self.update("MPIDs: none yet (they connect when the network is up)")
            return
        parts = []
        for name, label in model.identities.items():
            state = model.identity_state.get(name, "?")
            parts.append(f"[b]{label}[/] {short(name)} {STATES.get(state, state)}")
        self.update("MPIDs: " + "  ·  ".join(parts)
                    + "    (m sends a message, o takes one offline / brings it online)")
