"""The selected versioned item's VersionManager group: the vaults closest to its key, and
whether each holds the same tree as the others (they agree by sync before applying a change;
after churn a new member has no tree until the group's records are transferred to it)."""

from __future__ import annotations

from tui.model import VersionedItem
from tui.widgets.panel import Panel
from vaultnet.xor import short

STATES = {"agrees": "[green]agrees[/]", "differs": "[b red]differs[/]",
          "no tree": "[yellow]no tree[/]"}


class VersionGroup(Panel):
    """The selected tree's VersionManager group, member by member."""

    DEFAULT_CSS = "VersionGroup { height: 1fr; padding: 0 1; border-left: solid $primary; }"

    def show(self, item: VersionedItem | None) -> None:
        """Draw `item` (None: nothing selected)."""
        if item is None:
            self.update("no version tree yet: n creates a versioned item with its first "
                        "version, v puts a child of the selected version (a second child is "
                        "a fork), b deletes the selected tip's branch")
            return
        lines = [f"[b]{item.label}[/]  key {short(item.key, 16)}",
                 "VersionManager group (nearest the key):"]
        for member in item.group:
            lines.append(f"  {short(member.vault)}  {STATES.get(member.state, member.state):<8}"
                         f"  {member.versions} version{'' if member.versions == 1 else 's'}")
        if item.strays:
            lines.append("outside the group, still holding it: "
                         + " ".join(short(n) for n in item.strays))
        if not item.sampled:
            lines.append("(not sampled yet)")
        lines += ["", f"last operation: trace {short(item.trace, 12)} (t)"
                  if item.trace else "no operation seen yet"]
        self.update("\n".join(lines))
