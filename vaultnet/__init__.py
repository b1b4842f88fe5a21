"""vaultnet: a runnable MaidSafe-style vault network (trio), its dashboard and test fixtures.

The public library is what this module exports (`__all__`): the `Testnet` launcher, the
clients it hands out, their errors, and the types their answers use. Everything else is
reachable by its module path but may change between releases.
"""

from vaultnet.client.maid import (
    MAX_CHUNK_SIZE,
    ChunkSizeError,
    ClientError,
    DataExists,
    DeleteFailure,
    InvalidRegistration,
    InvalidVersion,
    MaidClient,
    MalformedAnswer,
    NetworkUnavailable,
    NoAnswer,
    NoSuchData,
    NoSuchVersion,
    NotOwner,
    PutFailure,
    RequestExpired,
    TooManyVaults,
    VaultRefused,
    VersionError,
    VersionLimit,
)
from vaultnet.client.mpid import (
    Blocked,
    InboxFull,
    MessagingError,
    MpidClient,
    MpidMessage,
    NotDelivered,
    OutboxFull,
)
from vaultnet.identity import Identity
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime.testnet import InvariantsViolated, NotSettled, Testnet, TestnetError

__all__ = [
    "MAX_CHUNK_SIZE", "Blocked", "ChunkSizeError", "ClientError", "DataExists", "DeleteFailure",
    "Identity", "InboxFull", "InvalidRegistration", "InvalidVersion", "InvariantsViolated",
    "MaidClient", "MalformedAnswer", "MessagingError", "MpidClient", "MpidMessage",
    "NetworkUnavailable", "NoAnswer", "NoSuchData", "NoSuchVersion", "NotDelivered",
    "NotOwner", "NotSettled", "OutboxFull", "PutFailure", "RequestExpired", "Testnet",
    "TestnetError", "TooManyVaults", "TreeMode", "VaultRefused", "VersionError",
    "VersionLimit", "VersionName",
]
