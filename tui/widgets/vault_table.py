"""The vaults: state, stored / capacity, copies by kind, rank, message rates; and the detail of
the selected one (its close group, its PmidManager account, what it holds)."""

from __future__ import annotations

from tui.model import NetworkModel, VaultRow
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.panel import Panel
from vaultnet.xor import short

COLUMNS = (("vault", "vault"), ("state", "state"), ("stored", "stored / capacity"),
           ("P", "P"), ("B", "B"), ("S", "S"), ("rank", "rank"), ("in", "in/s"),
           ("out", "out/s"), ("peers", "peers"))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _rank(row: VaultRow) -> str:
    return "-" if row.rank is None else f"{row.rank:.2f}"


class VaultTable(KeyedTable):
    """Every vault the dashboard has seen, a gone one as down."""

    COLUMNS = COLUMNS
    DEFAULT_CSS = "VaultTable { height: 1fr; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the rows from the model."""
        ordered = sorted(model.vaults.values(), key=lambda r: (r.state == "down", r.name))
        self.show_rows([(row.name, self._cells(row)) for row in ordered])

    @staticmethod
    def _cells(row: VaultRow) -> tuple[str, ...]:
        state = row.state if row.state in ("up", "down") else f"[red]{row.state}[/]"
        rank = _rank(row)
        if row.rank is not None and row.rank < 0.5:
            rank = f"[red]{rank}[/]"
        return (short(row.name), state, f"{_size(row.stored)} / {_size(row.capacity)}",
                str(row.copies.get("P", 0)), str(row.copies.get("B", 0)),
                str(row.copies.get("S", 0)), rank, f"{row.rate_in:.0f}", f"{row.rate_out:.0f}",
                str(row.peers))


class VaultDetail(Panel):
    """The selected vault's close group, account and copies."""

    DEFAULT_CSS = "VaultDetail { height: 1fr; border-top: solid $primary; padding: 0 1; }"

    def show(self, row: VaultRow | None) -> None:
        """Draw `row` (None: nothing selected)."""
        if row is None:
            self.update("select a vault (arrow keys) to see its close group, account and copies")
            return
        group = " ".join(short(n) for n in row.close_group) or "-"
        account = ", ".join(f"{k} {v}" for k, v in sorted(row.account.items())) or "none yet"
        holds = "\n".join(f"  {kind} {short(copy, 16)}  {_size(size)}"
                          for copy, kind, size in row.holds) or "  nothing"
        self.update(f"[b]vault {row.name.hex()[:32]}[/]  state {row.state}  rank {_rank(row)}\n"
                    f"close group of its name: {group}\n"
                    f"PmidManager account: {account}\n"
                    f"holds ({sum(row.copies.values())} copies):\n{holds}")
