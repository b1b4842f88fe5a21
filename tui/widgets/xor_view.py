"""Close groups in XOR space: the vaults nearest a chosen name, ordered by XOR distance.

A ring misleads for XOR (ring neighbours need not be XOR-close), so each row shows the vault's
first bits under the target's, the shared prefix highlighted: XOR closeness *is* the length of
that shared prefix. For a chunk, each of its three copy names gets a block (holders are chosen
near the copy's name, not the chunk's); the group-size boundary is drawn as a rule, and a vault
holding the copy is marked with its kind.
"""

from __future__ import annotations

from tui.model import NetworkModel, XorRow
from tui.widgets.panel import Panel
from vaultnet.xor import short

BITS_SHOWN = 20


def _bits(name: bytes, count: int = BITS_SHOWN) -> str:
    return "".join(f"{byte:08b}" for byte in name[: (count + 7) // 8])[:count]


class XorView(Panel):
    """The vaults nearest the focused name, by XOR distance."""

    DEFAULT_CSS = "XorView { height: 1fr; padding: 0 1; border-left: solid $primary; }"

    def show(self, model: NetworkModel) -> None:
        """Draw it from the model."""
        if model.focus is None:
            self.update("put a chunk (p) or choose one in the list to see its close group")
            return
        kind = "chunk" if model.focus in model.chunks else "name"
        lines = [f"[b]{kind} {short(model.focus, 16)}[/]: nearest vaults by XOR distance; "
                 "[green]green[/] = bits shared with the target"]
        for block in model.xor_blocks:
            lines += ["", f"[b]{block.label} {short(block.target, 16)}[/]",
                      f"   target    {_bits(block.target)}"]
            for i, row in enumerate(block.rows):
                if i == model.group_size:
                    lines.append(f"   {'-' * 8} close group ({model.group_size}) {'-' * 8}")
                lines.append(self._row(i + 1, row))
        self.update("\n".join(lines))

    @staticmethod
    def _row(rank: int, row: XorRow) -> str:
        bits = _bits(row.name)
        shared = min(row.shared_bits, BITS_SHOWN)
        shown = f"[b green]{bits[:shared]}[/][dim]{bits[shared:]}[/]"
        holds = f" [b reverse] {row.holds} [/]" if row.holds else ""
        return f"{rank:>2} {short(row.name)} {shown} {row.shared_bits:>3}b{holds}"
