"""The one-line network summary at the top: vaults, chunks, messages/s, evictions, lost."""

from __future__ import annotations

from rich.text import Text

from tui.model import NetworkModel
from tui.widgets.panel import Panel


class SummaryBar(Panel):
    """The top line: the network at a glance, written the longest way that fits the width
    (at 80 columns the full words cut off evictions, churn and lost)."""

    DEFAULT_CSS = """
    SummaryBar { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """
    _ways: list[str] = []

    def show(self, model: NetworkModel, paused: bool, status: str) -> None:
        """Draw it from the model (paused, and what the network is)."""
        s = model.summary
        lost = f"[b red]lost {s.lost}[/]" if s.lost else "lost 0"
        pause = "  [reverse] PAUSED [/]" if paused else ""
        short = (f"{s.vaults_up}↑ {s.vaults_down}↓  chunks {s.chunks}  {s.msgs_per_s:.0f} msg/s  "
                 f"evict {s.evictions}  churn {s.churn}  {lost}{pause}")
        self._ways = [
            f"[b]vaultnet[/]  {status}  vaults {s.vaults_up} up / {s.vaults_down} down  "
            f"chunks {s.chunks}  msgs/s {s.msgs_per_s:.0f}  evictions {s.evictions}  "
            f"churn {s.churn}  {lost}{pause}", f"{status}  {short}", short]
        self._fit()

    def on_resize(self) -> None:
        """Write it again the longest way that fits the new width."""
        self._fit()

    def _fit(self) -> None:
        if not self._ways:
            return
        width = self.content_region.width or self.app.size.width - 2
        text = next((way for way in self._ways if Text.from_markup(way).cell_len <= width),
                    self._ways[-1])
        self.update(text)
