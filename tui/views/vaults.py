"""View 1, the vaults: the vault table and the selected vault's detail; its keys add, kill,
restart a vault and inject a fault."""

from __future__ import annotations

from textual.app import ComposeResult

from tui.views.base import View, footer_keys
from tui.widgets.vault_table import VaultDetail, VaultTable
from vaultnet.runtime.faults import Fault


class VaultsView(View):
    """The vaults, and the actions on the selected one."""

    MAIN = VaultTable
    BINDINGS = footer_keys((("a", "add", "add"), ("K", "kill", "kill"),
                            ("r", "restart", "restart"), ("f", "fault", "fault"),
                            ("x", "xor_focus", "XOR"), ("p", "put", "put")))

    def compose(self) -> ComposeResult:
        """The vault table above the selected vault's detail."""
        yield VaultTable()
        yield VaultDetail()

    def show(self) -> None:
        """The vault table and the selected vault's detail."""
        table = self.query_one(VaultTable)
        table.show(self.model)
        selected = table.selected_name()
        self.query_one(VaultDetail).show(self.model.vaults.get(selected) if selected else None)

    def selected_vault(self) -> bytes | None:
        """The selected vault's name, or None (and the user is told how to select one)."""
        name = self.query_one(VaultTable).selected_name()
        if name is None:
            self.notify("no vault selected (tab 1, arrow keys)", severity="warning")
        return name

    def action_add(self) -> None:
        """Add a vault to the network."""
        async def add() -> str:
            assert self.dashboard.network is not None
            return f"added vault {(await self.dashboard.network.add_vault()).hex()[:16]}"

        self.dashboard.start_operation("add", add)

    def action_kill(self) -> None:
        """Kill the selected vault (asks y / n)."""
        if (name := self.selected_vault()) is None:
            return
        self.confirm(f"kill vault {name.hex()[:16]}?", lambda: self._kill(name))

    def _kill(self, name: bytes) -> None:
        async def kill() -> str:
            assert self.dashboard.network is not None
            await self.dashboard.network.kill_vault(name)
            return f"killed vault {name.hex()[:16]}"

        self.dashboard.start_operation("kill", kill)

    def action_restart(self) -> None:
        """Restart the selected vault with its data."""
        if (name := self.selected_vault()) is None:
            return

        async def restart() -> str:
            assert self.dashboard.network is not None
            await self.dashboard.network.restart_vault(name)
            return f"restarted vault {name.hex()[:16]} with its data"

        self.dashboard.start_operation("restart", restart)

    def action_fault(self) -> None:
        """Ask which fault to inject into the selected vault, and inject it."""
        if (name := self.selected_vault()) is None:
            return
        kinds = ", ".join(f.value for f in Fault)
        self.ask(f"fault for {name.hex()[:16]}: {kinds}", "lie",
                 lambda kind: self._fault(name, kind))

    def _fault(self, name: bytes, kind: str | None) -> None:
        if not kind:
            return

        async def fault() -> str:
            assert self.dashboard.network is not None
            await self.dashboard.network.fault(name, kind)
            return f"{kind}: vault {name.hex()[:16]}"

        self.dashboard.start_operation("fault", fault)
