"""The layers depend one way (docs/architecture.md): each package of `vaultnet/` imports only
its own layer and the layers below it, there is no import cycle, the library never imports the
dashboard or Textual, and the protocol layers do no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vaultnet

LIBRARY = Path(vaultnet.__file__).parent
FORBIDDEN = ("textual", "tui", "rich")

# Bottom to top. A module may import modules of its own layer or of any layer before it.
LAYERS: list[tuple[str, ...]] = [
    ("xor", "wire", "filemodes"),
    ("identity", "routing"),
    ("messages", "protocol"),
    ("group",),
    ("storage",),
    ("personas",),
    ("transport",),
    ("client",),
    ("runtime",),
    ("control",),
    ("testing", "bench", "cli", "__main__"),
]


def module_name(path: Path) -> str:
    """`vaultnet/runtime/vault.py` -> `vaultnet.runtime.vault` (a package is its `__init__`)."""
    parts = list(path.relative_to(LIBRARY.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            # `from vaultnet.runtime import events` imports the module vaultnet.runtime.events
            modules.update(f"{node.module}.{alias.name}" for alias in node.names
                           if f"{node.module}.{alias.name}" in MODULES)
    return modules


def library_imports(path: Path) -> set[str]:
    """The modules of `vaultnet/` that `path` imports, the package root's `__init__` aside
    (Python runs it before any submodule whatever the importer; it only re-exports)."""
    return {m for m in imported_modules(path) if m in MODULES and m != "vaultnet"}


def layer_of(module: str) -> int:
    """The index in LAYERS of the layer `module` belongs to (-1: none)."""
    top = module.split(".")[1]
    return next((i for i, layer in enumerate(LAYERS) if top in layer), -1)


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if m != "vaultnet" and layer_of(m) < 0] == []


def test_each_layer_imports_only_itself_and_the_layers_below() -> None:
    upward = sorted(f"{m} -> {t}" for m, path in MODULES.items() if m != "vaultnet"
                    for t in library_imports(path) if layer_of(t) > layer_of(m))
    assert upward == []


def test_there_is_no_import_cycle() -> None:
    graph = {m: library_imports(path) for m, path in MODULES.items()}
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            cycles.append([*stack[stack.index(module):], module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_the_scan_sees_modules_imported_from_their_package(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from vaultnet.runtime import events\n")
    assert "vaultnet.runtime.events" in imported_modules(module)


def test_the_library_never_imports_the_dashboard_or_textual() -> None:
    offenders = {
        str(path.relative_to(LIBRARY.parent)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        for path in MODULES.values()
    }
    offenders = {path: modules for path, modules in offenders.items() if modules}
    # The one door: `vaultnet tui` hands over to the dashboard package lazily, by name, so the
    # library itself never depends on it.
    assert offenders == {"vaultnet/cli/tui.py": ["tui.app", "tui.errors"]}, offenders


def test_importing_every_library_module_loads_no_textual() -> None:
    script = ("import importlib, sys\n"
              f"for name in {sorted(set(MODULES) - {'vaultnet.__main__'})!r}:\n"
              "    importlib.import_module(name)\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              f"{FORBIDDEN!r}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_starting_the_command_line_loads_neither_pytest_nor_trio_testing() -> None:
    """Every `vaultnet` command starts by importing the command line; `trio.testing` (for the
    simulator's clock) imports pytest, which is for `vaultnet.transport.clock` to load when a
    simulated run needs it."""
    script = ("import sys, vaultnet.cli.main, vaultnet.cli.bench\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('pytest', '_pytest') or m.startswith('trio.testing')))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from textual.app import App\n    import tui.bench\n")
    assert imported_modules(module) == {"textual.app", "tui.bench"}


def test_the_dashboard_uses_the_library_not_the_command_line() -> None:
    dashboard = LIBRARY.parent / "tui"
    users = sorted(str(path.relative_to(dashboard.parent)) for path in dashboard.rglob("*.py")
                   if any(m == "vaultnet.cli" or m.startswith("vaultnet.cli.")
                          for m in imported_modules(path)))
    assert users == []


SANS_IO = [*sorted((LIBRARY / "group").glob("*.py")), *sorted((LIBRARY / "personas").glob("*.py")),
           LIBRARY / "routing.py", LIBRARY / "xor.py", LIBRARY / "wire.py",
           LIBRARY / "messages.py", LIBRARY / "protocol.py"]
"""The protocol layers: decisions only, tested without a network (docs/architecture.md)."""
RUNTIME = ("trio", "socket", "vaultnet.runtime", "vaultnet.transport", "vaultnet.client")


def test_the_protocol_layers_do_no_io() -> None:
    offenders = {
        str(path.relative_to(LIBRARY.parent)): sorted(
            m for m in imported_modules(path)
            if any(m == r or m.startswith(r + ".") for r in RUNTIME))
        for path in SANS_IO
    }
    offenders = {path: modules for path, modules in offenders.items() if modules}
    assert len(SANS_IO) > 10 and offenders == {}, offenders
