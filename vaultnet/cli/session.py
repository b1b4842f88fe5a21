"""A client session on the running testnet, for the commands that act as a client (`put`, `get`,
`delete`, `version`, `msg`): connect through its bootstrap vaults, run one operation, close.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli.addresses import address_file, read_address_file
from vaultnet.cli.errors import CommandError, leaves
from vaultnet.client.chunk_input import ChunkInputError, read_chunk_file


def run_client(args: argparse.Namespace, operation: Callable[[Any], Any],
               identity_dir: str = "client", opener: Callable[..., Any] | None = None) -> Any:
    """Connect a client through the testnet's bootstrap vaults and run `operation` on it.

    The client's key is kept beside the address file, in `identity_dir`: deleting needs the
    MAID account that stored the chunk, and a messaging identity must keep its name. `opener`
    is `open_client` (a MaidNode, the default) or `open_mpid_client`."""
    from vaultnet.client.maid import ClientError, open_client
    from vaultnet.identity import Identity
    from vaultnet.transport.tcp import TcpEndpoint

    opener = opener or open_client

    if args.bootstrap is not None:
        bootstrap = [args.bootstrap]
    else:
        record = read_address_file(args.data_dir)
        if record.get("transport") != "tcp":
            raise CommandError("that testnet runs on the simulator; clients need --transport tcp")
        bootstrap = [str(a) for a in record["bootstrap"]]

    async def session() -> Any:
        identity = Identity.load_or_create(address_file(args.data_dir).parent / identity_dir)
        async with trio.open_nursery() as nursery:
            client = await opener(TcpEndpoint(identity, role="client"), bootstrap, nursery,
                                  identity)
            try:
                return await operation(client)
            finally:
                await client.aclose()
                nursery.cancel_scope.cancel()

    try:
        return trio.run(session)
    except BaseException as exc:
        for leaf in leaves(exc):
            if isinstance(leaf, ClientError):
                raise CommandError(str(leaf)) from None
        raise


def chunk_from_file(path: Path) -> bytes:
    """FILE's content as one chunk (`read_chunk_file`); CommandError says why it cannot be."""
    try:
        return read_chunk_file(path)
    except ChunkInputError as exc:
        raise CommandError(str(exc)) from None
