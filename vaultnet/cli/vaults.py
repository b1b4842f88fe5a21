"""`vaultnet register-vault / unregister-vault`: the local client's registered vaults, whose
offered space is its allowance (a client with none has the default 1 TiB)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaultnet.cli.addresses import address_file
from vaultnet.cli.arguments import Subparsers, add_client_flags
from vaultnet.cli.errors import UsageError
from vaultnet.cli.session import run_client
from vaultnet.identity import KEY_FILE, Identity
from vaultnet.runtime.testnet import VAULT_DIR_PREFIX

VAULT_HELP = ("the vault: its number in the testnet (3 = DATA_DIR/vault-003) or its "
              "directory (holding identity.key)")
"""How both commands' VAULT argument is explained in their --help."""


def add_register_vault_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet register-vault VAULT`."""
    parser = subparsers.add_parser(
        "register-vault", help="register a vault: your allowance becomes the space it offers",
        description="Register VAULT in your account, signed by your key and the vault's; "
                    "your allowance is then the space your registered vaults offer.")
    parser.add_argument("vault", metavar="VAULT", help=VAULT_HELP)
    add_client_flags(parser)
    return parser


def add_unregister_vault_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Declare `vaultnet unregister-vault VAULT`."""
    parser = subparsers.add_parser(
        "unregister-vault", help="take a registered vault out of your account",
        description="Take VAULT out of your account; with no vault left your allowance is "
                    "the default (1 TiB).")
    parser.add_argument("vault", metavar="VAULT",
                        help=VAULT_HELP + ", or its name (128 hex characters)")
    add_client_flags(parser)
    return parser


def vault_identity(vault: str, data_dir: Path | None) -> Identity:
    """The identity of VAULT (a number in the testnet, or a directory); UsageError if it
    names no vault's key."""
    directory = (address_file(data_dir).parent / f"{VAULT_DIR_PREFIX}{int(vault):03d}"
                 if vault.isdigit() else Path(vault))
    if not (directory / KEY_FILE).is_file():
        raise UsageError(f"no vault key at {directory / KEY_FILE}: name a vault by its number "
                         f"or its directory")
    return Identity.load_or_create(directory)


def cmd_register_vault(args: argparse.Namespace) -> int:
    """Register VAULT and print the allowance the managers answered."""
    vault = vault_identity(args.vault, args.data_dir)
    allowance = run_client(args, lambda client: client.register_vault(vault))
    print(f"registered vault {vault.name.hex()[:16]}: allowance {allowance} bytes "
          f"(the vault's space counts once its PmidManagers report it)")
    return 0


def cmd_unregister_vault(args: argparse.Namespace) -> int:
    """Unregister VAULT (by number, directory or name) and print the allowance left."""
    name = _hex_name(args.vault)
    if name is None:
        name = vault_identity(args.vault, args.data_dir).name
    allowance = run_client(args, lambda client: client.unregister_vault(name))
    print(f"unregistered vault {name.hex()[:16]}: allowance {allowance} bytes")
    return 0


def _hex_name(text: str) -> bytes | None:
    """`text` as a 64-byte name if it is 128 hex characters (a vault number never is)."""
    if len(text) != 128:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None
