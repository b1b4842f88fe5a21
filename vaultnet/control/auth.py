"""Who may steer a testnet: the secret token beside its address file, and the check of a
request's envelope (its fields and token) before anything about its command is looked at."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from vaultnet.control.client import ControlError
from vaultnet.control.protocol import RequestError
from vaultnet.filemodes import private_dir, write_private

TOKEN_FILE = "control.token"
"""The token's file, beside the testnet's address file (mode 0600, removed at exit)."""
FIELDS = frozenset({"token", "command", "args"})
"""The fields a request may have."""


def write_token(directory: Path) -> str:
    """A fresh secret in `directory/control.token`, readable by this user only."""
    private_dir(directory)
    token = secrets.token_hex(32)
    write_private(directory / TOKEN_FILE, (token + "\n").encode())
    return token


def read_token(directory: Path) -> str:
    """The secret a running testnet wrote into `directory`."""
    path = directory / TOKEN_FILE
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlError(f"cannot read control token {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None


def authenticated(request: object, token: bytes) -> tuple[object, object]:
    """The command and arguments (unchecked) of a request that is a map of FIELDS carrying
    `token`; RequestError otherwise, so a caller without the token learns nothing but the
    request's shape."""
    if not isinstance(request, dict):
        raise RequestError("malformed", "a request is a map")
    unknown = sorted(str(k) for k in request if k not in FIELDS)
    if unknown:
        raise RequestError("malformed", f"unknown request field(s): {', '.join(unknown)}")
    sent: Any = request.get("token")
    if not isinstance(sent, str):
        raise RequestError("malformed", "the token must be a string")
    if not hmac.compare_digest(sent.encode(), token):
        raise RequestError("token", "wrong control token")
    return request.get("command"), request.get("args", [])
