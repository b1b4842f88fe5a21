"""How a `vaultnet` command fails: the error types every command raises and the one-line report.

Exit codes and error style (the same for every command):

- 0   success, including a testnet stopped by Ctrl-C / SIGTERM or by `--duration`;
- 1   a run-time failure (`vaultnet.TestnetError`, `OSError`, a missing optional component):
      one line `vaultnet: error: ...` on stderr, no traceback;
- 2   a usage error (unknown flag, bad value): one line `vaultnet: error: ...` on stderr, no
      usage block (`vaultnet CMD --help` shows it), no traceback;
- 130 interrupted by Ctrl-C outside a running testnet.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn

PROG = "vaultnet"
"""The program's name, at the start of every error line and in every usage hint."""


class UsageError(Exception):
    """A bad flag value found after parsing (exit 2, one line)."""


class CommandError(Exception):
    """A run-time failure a command reports as one line (exit `exit_code`, 1)."""

    exit_code = 1


class AttachError(CommandError):
    """`vaultnet tui --attach` found no testnet it can steer there (exit 2)."""

    exit_code = 2


def error_line(message: str) -> None:
    """Print `vaultnet: error: MESSAGE` as one line on stderr, whatever the message held."""
    message = " ".join(str(message).split())
    with contextlib.suppress(OSError, ValueError):  # stderr gone: nobody to tell
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside `exc`, exception groups flattened (to classify each one)."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exactly one line on stderr: `vaultnet: error: ...`.

    The usage block is left out on purpose (it pushed the actual error off small terminals and
    made the output awkward to test); the line ends with where to find the usage instead.
    Subparsers inherit this class (argparse creates them with the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        """Report a usage error as one line with a hint, and exit 2."""
        error_line(message + f" (see '{self.prog} --help')")
        raise SystemExit(2)
