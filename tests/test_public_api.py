"""What a user writing tests reaches from `vaultnet` itself: reconnecting as the same client,
and version names built from the exported type (a tuple is refused with a clear error)."""

from __future__ import annotations

import pytest

from vaultnet import Testnet, VersionName


async def test_a_client_reconnects_with_its_identity_and_keeps_its_account(
        autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=11) as net:
        first = await net.client()
        name = await first.put(b"mine" * 100)
        await first.aclose()
        again = await net.client(identity=first.identity)
        assert again.name == first.name
        stranger = await net.client()
        assert await stranger.delete(name) is False, "another account does not hold it"
        assert await again.delete(name) is True, "the same account still holds its put"


async def test_a_trace_id_of_the_wrong_size_is_refused_before_anything_is_sent(
        autojump_clock) -> None:
    """Vaults close a connection whose frame carries a trace id of the wrong size: the client
    refuses such a trace itself, so its connection, and its next requests, are unharmed."""
    import vaultnet

    async with Testnet(vaults=8, transport="sim", seed=14) as net:
        client = await net.client()
        with pytest.raises(vaultnet.TraceIdError, match="a trace id is 16 bytes, not 8"):
            await client.put(b"traced", trace=b"12345678")
        name = await client.put(b"traced", trace=client.new_id())
        assert await client.get(name) == b"traced"


@pytest.mark.parametrize("field", ["parent", "version"])
async def test_a_tuple_for_a_version_name_is_refused_by_name(autojump_clock, field: str) -> None:
    async with Testnet(vaults=8, transport="sim", seed=12) as net:
        client = await net.client()
        chunk = await client.put(b"version one")
        good = VersionName(0, chunk)
        kwargs = {"parent": good, "version": good, field: (0, chunk)}
        with pytest.raises(TypeError, match=f"{field} must be a vaultnet.VersionName"):
            await client.put_version(b"\x01" * 64, **kwargs)  # type: ignore[arg-type]


def test_the_package_exports_the_launcher_clients_and_every_client_error() -> None:
    import vaultnet
    from vaultnet.client import maid, mpid

    assert sorted(vaultnet.__all__) == sorted(set(vaultnet.__all__))
    assert all(hasattr(vaultnet, name) for name in vaultnet.__all__)
    errors = {name for module in (maid, mpid) for name, value in vars(module).items()
              if isinstance(value, type) and issubclass(value, maid.ClientError)
              and not name.startswith("_") and value.__module__ == module.__name__}
    # Every public client error is exported, except the "no answer" variants per operation,
    # which a caller catches as NoAnswer or as the operation's failure.
    assert errors - set(vaultnet.__all__) <= {"PutNoAnswer", "GetNoAnswer", "DeleteNoAnswer",
                                               "VersionNoAnswer"}


async def test_a_testnet_client_is_the_exported_maid_client(autojump_clock) -> None:
    import vaultnet

    async with Testnet(vaults=8, transport="sim", seed=13) as net:
        client = await net.client()
        assert isinstance(client, vaultnet.MaidClient)
        with pytest.raises(vaultnet.ChunkSizeError):
            await client.put(b"")
