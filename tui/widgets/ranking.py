"""Ranking: nodes ordered by the rank their PmidManagers give them, with rank over time as a
sparkline, so a lying or data-losing vault is seen sinking."""

from __future__ import annotations

from tui.model import NetworkModel
from tui.widgets.panel import Panel
from vaultnet.xor import short

BLOCKS = "▁▂▃▄▅▆▇█"
"""Rank 0 is the lowest bar, not a blank: a vault at 0 all along (a liar) shows a flat line
at the bottom, not what looks like no history."""
HISTORY_SHOWN = 40


def sparkline(values: list[float]) -> str:
    """Ranks in [0, 1] as block characters, oldest first."""
    return "".join(BLOCKS[round(max(0.0, min(1.0, v)) * (len(BLOCKS) - 1))] for v in values)


class RankingView(Panel):
    """Nodes by rank, lowest first, each with its rank over time."""

    DEFAULT_CSS = "RankingView { height: auto; padding: 0 1; }"

    def show(self, model: NetworkModel) -> None:
        """Draw it from the model."""
        ranked = sorted((row for row in model.vaults.values() if row.rank is not None),
                        key=lambda r: (r.rank, r.name))
        if not ranked:
            self.update("no node has an account yet: put some chunks (p)")
            return
        lines = ["[b]rank = stored / (stored + lost) bytes, as each node's PmidManagers "
                 "record it[/]", ""]
        for row in ranked:
            assert row.rank is not None
            history = list(model.rank_history.get(row.name, []))[-HISTORY_SHOWN:]
            colour = "red" if row.rank < 0.5 else "yellow" if row.rank < 0.9 else "green"
            flags = "" if row.state == "up" else f"  ({row.state})"
            lines.append(f"{short(row.name)}  [{colour}]{row.rank:4.2f}[/]  "
                         f"[{colour}]{sparkline(history):<{HISTORY_SHOWN}}[/]{flags}")
        self.update("\n".join(lines))
