"""Messages between MPIDs: sender → recipient, the text, what the recipient's MpidManagers did
with it (held until the recipient's MpidNode acknowledges it, delivered, refused and why) and
which of them hold it now."""

from __future__ import annotations

from tui.model import MessageInfo, NetworkModel
from tui.widgets.keyed_table import KeyedTable
from vaultnet.xor import short

COLUMNS = (("route", "from → to"), ("text", "text"), ("state", "state"),
           ("held", "held by MpidManagers"), ("got", "received"))
STATES = {"sending": "[dim]sending…[/]", "held": "[yellow]held[/]",
          "delivered": "[green]delivered[/]"}
TEXT_SHOWN = 22
STATE_SHOWN = 50


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class MessageTable(KeyedTable):
    """Every message between the MPIDs, newest first, with its state."""

    COLUMNS = COLUMNS
    WIDTHS = {"route": 15, "text": TEXT_SHOWN, "state": STATE_SHOWN, "held": 20, "got": 8}
    DEFAULT_CSS = "MessageTable { height: 1fr; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the rows from the model."""
        messages = reversed(model.messages.values())  # newest first
        self.show_rows([(m.trace, self._cells(model, m)) for m in messages])

    @staticmethod
    def _cells(model: NetworkModel, m: MessageInfo) -> tuple[str, ...]:
        state = STATES.get(m.state)
        if state is None:  # refused or failed: say why
            reason = _cut(m.reason, STATE_SHOWN - len(m.state) - 2)
            state = f"[red]{m.state}[/]: {reason}" if reason else f"[red]{m.state}[/]"
        held = " ".join(short(n, 4) for n in m.held_by) or "-"
        return (f"{model.label(m.sender)} → {model.label(m.recipient)}",
                _cut(m.text, TEXT_SHOWN) or "-", state, held, "✓" if m.received else "")
