"""The `vaultnet` command line: flags, exit codes, the headless testnet and its address file."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vaultnet.cli import addresses, bench
from vaultnet.cli import main as cli
from vaultnet.cli import tui as tui_command
from vaultnet.cli.errors import CommandError
from vaultnet.runtime.events import VaultUp, read_trace

TIMEOUT = 60


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", *argv], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("vaultnet: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def trace_digest(stdout: str) -> str:
    match = re.search(r"^trace: \d+ events, sha256 ([0-9a-f]{64}) -> ", stdout, re.M)
    assert match, stdout
    return match.group(1)


# -- parsing and errors --------------------------------------------------------------------------


def test_every_registered_command_has_both_functions(capsys: pytest.CaptureFixture[str]) -> None:
    for name, command in cli.COMMANDS.items():
        ident = name.replace("-", "_")
        assert command.add_parser.__name__ == f"add_{ident}_parser"
        assert command.run.__name__ == f"cmd_{ident}"
        assert command.add_parser.__module__ == command.run.__module__
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert re.fullmatch(r"vaultnet \S+\n", capsys.readouterr().out)


@pytest.mark.parametrize(("argv", "fragment"), [
    ([], "name a command"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["testnet", "--vaults", "-1"], "--vaults: must be between 1 and 500, got -1"),
    (["testnet", "--vaults", "0"], "--vaults: must be between 1 and 500, got 0"),
    (["testnet", "--vaults", "501"], "--vaults: must be between 1 and 500, got 501"),
    (["testnet", "--vaults", "many"], "--vaults: not a whole number"),
    (["testnet", "--transport", "udp"], "--transport: invalid choice: 'udp'"),
    (["testnet", "--duration", "0"], "--duration: must be a positive number of seconds"),
    (["testnet", "--duration", "-5"], "--duration: must be a positive number of seconds"),
    (["testnet", "--duration", "nan"], "--duration: must be a positive number of seconds"),
    (["testnet", "--summary-interval", "0"], "--summary-interval: must be a positive"),
    (["testnet", "--seed", "-3"], "--seed: must be 0 or more"),
    (["testnet", "--fast"], "--fast only applies to --transport sim"),
    (["testnet", "--record", "{tmp}/no/such/dir/trace.bin"], "cannot write --record file"),
    (["testnet", "--record", "{tmp}"], "cannot write --record file"),
    (["testnet", "--data-dir", "{tmp}/a-file"], "exists and is not a directory"),
    (["testnet", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["tui", "--capacity", "0"], "--capacity: must be more than 0 bytes"),
    (["tui", "--capacity", "lots"], "--capacity: not a size in bytes"),
    (["tui", "--vaults", "1000"], "--vaults: must be between 1 and 500"),
    (["bench"], "name a benchmark suite"),
])
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], fragment: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert fragment in line
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing created


def test_bad_usage_from_the_real_command() -> None:
    result = run_cli("testnet", "--vaults", "-1")
    assert result.returncode == 2
    assert "--vaults" in one_error_line(result.stderr)
    assert result.stdout == ""


# -- the headless testnet --------------------------------------------------------------------------


def test_tcp_testnet_runs_for_duration_and_records(tmp_path: Path) -> None:
    trace = tmp_path / "trace.bin"
    data = tmp_path / "data"
    result = run_cli("testnet", "--vaults", "4", "--duration", "2", "--record", str(trace),
                     "--data-dir", str(data), "--summary-interval", "0.5")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert re.search(r"^bootstrap: 127\.0\.0\.1:\d+$", out, re.M), out
    summaries = re.findall(r"^t=[\d.]+s vaults=4 connections=\d+ msgs/s=[\d.]+ .*$", out, re.M)
    assert summaries, out
    assert re.search(r"^stopped after [\d.]+s \(duration reached\)", out, re.M), out

    events = read_trace(trace)
    up = {e.vault for e in events if isinstance(e, VaultUp)}
    assert len(up) == 4
    assert trace_digest(out) == hashlib.sha256(trace.read_bytes()).hexdigest()
    assert sorted(p.name for p in data.iterdir()) == ["network.key", *(f"vault-00{i}"
                                                                        for i in range(1, 5))]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_testnet_and_removes_address_file(tmp_path: Path, signum: int) -> None:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    address = tmp_path / "vaultnet" / "testnet.json"  # the default location, from the env
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--vaults", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("bootstrap: "):
                break
        assert lines and lines[-1].startswith("bootstrap: "), (lines, proc.poll())
        bootstrap = lines[-1].split(" ", 1)[1].strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap), lines
        record = json.loads(address.read_text())
        assert record["pid"] == proc.pid
        assert record["transport"] == "tcp"
        assert record["bootstrap"][0] == bootstrap
        assert addresses.read_address_file(tmp_path / "vaultnet")["pid"] == proc.pid

        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"({signal.Signals(signum).name})" in rest
    assert not address.exists()


def test_sim_fast_with_seed_reproduces_the_trace(tmp_path: Path) -> None:
    def digest(seed: str, name: str) -> str:
        result = run_cli("testnet", "--transport", "sim", "--fast", "--seed", seed,
                         "--vaults", "6", "--duration", "20", "--summary-interval", "5",
                         "--record", str(tmp_path / f"{name}.bin"),
                         "--data-dir", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert re.search(r"^bootstrap: sim:\d+$", result.stdout, re.M), result.stdout
        assert len(re.findall(r"^t=", result.stdout, re.M)) == 4  # at 5, 10, 15 and 20 s
        return trace_digest(result.stdout)

    first = digest("7", "a")
    assert digest("7", "b") == first
    assert digest("8", "c") != first


def test_sim_follows_the_wall_clock(tmp_path: Path) -> None:
    began = time.monotonic()
    result = run_cli("testnet", "--transport", "sim", "--seed", "3", "--vaults", "3",
                     "--duration", "1", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - began >= 1.0  # virtual time runs at wall-clock rate
    assert "bootstrap: sim:1" in result.stdout
    assert not (tmp_path / "testnet.json").exists()


def test_refuses_a_directory_with_a_live_testnet(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = {"format": 1, "bootstrap": ["127.0.0.1:1"], "pid": other.pid, "transport": "tcp"}
        (tmp_path / "testnet.json").write_text(json.dumps(live))
        assert cli.main(["testnet", "--data-dir", str(tmp_path), "--duration", "1"]) == 1
    finally:
        other.kill()
        other.wait()
    assert "already running" in one_error_line(capsys.readouterr().err)
    assert json.loads((tmp_path / "testnet.json").read_text()) == live  # left alone


def test_replaces_a_stale_address_file(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"format": 1, "bootstrap": ["127.0.0.1:1"], "pid": dead.pid, "transport": "tcp"}
    (tmp_path / "testnet.json").write_text(json.dumps(stale))
    with pytest.raises(CommandError, match="no longer running"):
        addresses.read_address_file(tmp_path)
    code = cli.main(["testnet", "--vaults", "2", "--data-dir", str(tmp_path),
                     "--duration", "0.3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"address file: {tmp_path / 'testnet.json'}" in captured.out
    assert not (tmp_path / "testnet.json").exists()


def test_read_address_file_without_a_testnet(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no running testnet"):
        addresses.read_address_file(tmp_path)


def test_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert addresses.default_data_dir() == tmp_path / "vaultnet"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert addresses.default_data_dir() == tmp_path / "cache" / "vaultnet" / "testnet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert addresses.default_data_dir() == Path.home() / ".cache" / "vaultnet" / "testnet"


def test_runtime_failure_is_one_line_exit_1(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The data directory exists but cannot hold the vaults' directories: an OSError at run time.
    blocker = tmp_path / "data"
    blocker.mkdir()
    (blocker / "vault-001").write_text("in the way")
    assert cli.main(["testnet", "--vaults", "2", "--data-dir", str(blocker),
                     "--duration", "1"]) == 1
    one_error_line(capsys.readouterr().err)
    assert not (blocker / "testnet.json").exists()


# -- tui and bench delegate to other modules ----------------------------------------------------


def fake_dashboard(monkeypatch: pytest.MonkeyPatch, main: Callable[..., object]) -> None:
    """`tui.app.main` is `main`, and the dashboard's error type a plain one (so `vaultnet tui`
    runs without Textual)."""
    monkeypatch.setitem(sys.modules, "tui", types.ModuleType("tui"))
    monkeypatch.setitem(sys.modules, "tui.app", types.SimpleNamespace(
        main=main, network_size=lambda vaults, capacity, tour: (
            vaults or (8 if tour else 16), capacity or (98_304 if tour else None))))
    monkeypatch.setitem(sys.modules, "tui.errors",
                        types.SimpleNamespace(DashboardError=type("DashboardError",
                                                                  (Exception,), {})))


def test_tui_passes_its_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def fake_main(**kwargs: object) -> int:
        seen.update(kwargs)
        return 3

    fake_dashboard(monkeypatch, fake_main)
    code = cli.main(["tui", "--vaults", "8", "--transport", "sim", "--seed", "5",
                     "--capacity", "64M", "--data-dir", str(tmp_path),
                     "--record", str(tmp_path / "run.trace")])
    assert code == 3
    assert seen == {"vaults": 8, "transport": "sim", "seed": 5, "capacity": 64 << 20,
                    "data_dir": tmp_path, "record": tmp_path / "run.trace", "replay": None,
                    "attach": None, "tour": False}
    assert cli.main(["tui", "--replay", str(tmp_path / "run.trace")]) == 3
    assert seen["replay"] == tmp_path / "run.trace" and seen["record"] is None


def fake_testnet_process(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    """`vaultnet tui`'s own testnet process is a stand-in: the arguments it was started with
    are recorded, and the dashboard is handed the string "remote" to attach to."""
    started: list[tuple[object, ...]] = []

    @contextlib.contextmanager
    def fake(*args: object) -> Iterator[str]:
        started.append(args)
        yield "remote"

    monkeypatch.setattr(tui_command, "testnet_process", fake)
    return started


def test_tui_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    fake_dashboard(monkeypatch, lambda **kw: seen.update(kw) or 0)
    started = fake_testnet_process(monkeypatch)
    assert cli.main(["tui", "--in-process"]) == 0  # the dashboard's default (16, or the tour's 8)
    assert seen == {"vaults": None, "transport": "tcp", "seed": None, "capacity": None,
                    "data_dir": None, "record": None, "replay": None, "attach": None,
                    "tour": False}
    assert started == []
    assert cli.main(["tui"]) == 0  # the default: a testnet in its own process, attached
    assert started == [(16, "tcp", None, None, None)] and seen["attach"] == "remote"


def test_tui_tour(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, object] = {}
    fake_dashboard(monkeypatch, lambda **kw: seen.update(kw) or 0)
    started = fake_testnet_process(monkeypatch)
    assert cli.main(["tui", "--tour", "--transport", "sim"]) == 0
    assert seen["tour"] is True and seen["vaults"] is None and seen["transport"] == "sim"
    assert started == [(8, "sim", None, 98_304, None)]  # the tour's small vaults, attached
    assert seen["attach"] == "remote"
    assert cli.main(["tui", "--tour", "--replay", str(tmp_path / "run.trace")]) == 2
    assert "--tour acts on a network" in one_error_line(capsys.readouterr().err)


def test_tui_unavailable(monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tui.app", None)
    assert cli.main(["tui"]) == 1
    assert "dashboard is not available" in one_error_line(capsys.readouterr().err)


def test_bench_passes_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    bench = types.ModuleType("vaultnet.bench.net")
    bench.main = lambda argv: calls.append(argv) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vaultnet.bench.net", bench)
    assert cli.main(["bench", "net", "--frames", "10"]) == 0
    assert calls == [["--frames", "10"]]


def test_every_bench_suite_of_the_library_exists() -> None:
    for suite, module in bench.SUITES.items():
        if module.startswith("vaultnet."):  # tui/bench.py is the dashboard's (Textual)
            assert importlib.util.find_spec(module) is not None, suite


@pytest.mark.parametrize("suite", ["nosuch", "../etc"])
def test_bench_unknown_suite(suite: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", suite]) == 2
    assert f"unknown benchmark suite {suite!r}" in one_error_line(capsys.readouterr().err)



def test_no_command_module_imports_the_registry() -> None:
    """main.py lists the command modules; none imports it back or looks a module up by name
    (bench.py aside: its suites are a table of module paths, each imported when it runs)."""
    for path in sorted(Path(cli.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert "vaultnet.cli.main" not in imported, path
        assert "importlib" not in imported or path.name == "bench.py", path
