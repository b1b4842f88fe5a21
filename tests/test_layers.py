"""The layers depend one way: the library under vaultnet/ never imports the dashboard or Textual
(a user of the headless library or the test plugin must not need either)."""

from __future__ import annotations

import ast
from pathlib import Path

import vaultnet

LIBRARY = Path(vaultnet.__file__).parent
FORBIDDEN = ("textual", "tui", "rich")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_the_library_never_imports_the_dashboard_or_textual() -> None:
    offenders = {
        str(path.relative_to(LIBRARY.parent)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        for path in sorted(LIBRARY.rglob("*.py"))
    }
    offenders = {path: modules for path, modules in offenders.items() if modules}
    # The one door: `vaultnet tui` / `vaultnet bench tui` hand over to the dashboard package
    # lazily, by name, so the library itself never depends on it.
    assert offenders == {"vaultnet/cli.py": ["tui.app", "tui.errors"]}, offenders


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from textual.app import App\n    import tui.bench\n")
    assert imported_modules(module) == {"textual.app", "tui.bench"}


def test_the_dashboard_uses_the_library_not_the_command_line() -> None:
    dashboard = LIBRARY.parent / "tui"
    users = sorted(str(path.relative_to(dashboard.parent)) for path in dashboard.rglob("*.py")
                   if any(m == "vaultnet.cli" or m.startswith(("vaultnet.cli.", "vaultnet.cli_"))
                          for m in imported_modules(path)))
    assert users == []


SANS_IO = [*sorted((LIBRARY / "group").glob("*.py")),
           *sorted(p for p in (LIBRARY / "personas").glob("*.py") if p.name != "host.py"),
           LIBRARY / "routing.py", LIBRARY / "xor.py", LIBRARY / "wire.py"]
"""The protocol layers: decisions only, tested without a network (docs/architecture.md)."""
RUNTIME = ("trio", "socket", "vaultnet.vault", "vaultnet.testnet", "vaultnet.transport",
           "vaultnet.personas.host", "vaultnet.client")


def test_the_protocol_layers_do_no_io() -> None:
    offenders = {
        str(path.relative_to(LIBRARY.parent)): sorted(
            m for m in imported_modules(path)
            if any(m == r or m.startswith(r + ".") for r in RUNTIME))
        for path in SANS_IO
    }
    offenders = {path: modules for path, modules in offenders.items() if modules}
    assert len(SANS_IO) > 10 and offenders == {}, offenders
