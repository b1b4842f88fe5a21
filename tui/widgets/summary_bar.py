"""The one-line network summary at the top: vaults, chunks, messages/s, evictions, lost."""

from __future__ import annotations

from textual.widgets import Static

from tui.model import NetworkModel


class SummaryBar(Static):
    """The top line: the network at a glance."""

    DEFAULT_CSS = """
    SummaryBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def show(self, model: NetworkModel, paused: bool, status: str) -> None:
        """Draw it from the model (paused, and what the network is)."""
        s = model.summary
        lost = f"[b red]lost {s.lost}[/]" if s.lost else "lost 0"
        pause = "  [reverse] PAUSED [/]" if paused else ""
        self.update(f"[b]vaultnet[/]  {status}  vaults {s.vaults_up} up / {s.vaults_down} down  "
                    f"chunks {s.chunks}  msgs/s {s.msgs_per_s:.0f}  evictions {s.evictions}  "
                    f"churn {s.churn}  {lost}{pause}")
