"""vaultnet: a runnable MaidSafe-style vault network (trio), its dashboard and test fixtures.

The public library is what this module exports (`__all__`): the `Testnet` launcher, the
clients it hands out, their errors, and the types their answers use. Everything else is
reachable by its module path but may change between releases.
"""

from vaultnet.client.maid import (
    MAX_CHUNK_SIZE,
    MAX_DATA_SIZE,
    AllowanceExceeded,
    ChunkSizeError,
    ClientError,
    DataExists,
    DeleteFailure,
    InvalidRegistration,
    InvalidSignature,
    InvalidVersion,
    MaidClient,
    MalformedAnswer,
    NetworkUnavailable,
    NoAnswer,
    NoSuchData,
    NoSuchRecord,
    NoSuchVersion,
    NotOwner,
    NotRecordOwner,
    PutFailure,
    RecordExists,
    RecordTooLarge,
    RequestExpired,
    StaleVersion,
    StructuredError,
    StructuredRecord,
    TooManyVaults,
    TraceIdError,
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
    "MAX_CHUNK_SIZE", "MAX_DATA_SIZE", "AllowanceExceeded",
    "Blocked", "ChunkSizeError", "ClientError", "DataExists",
    "DeleteFailure", "Identity", "InboxFull", "InvalidRegistration", "InvalidSignature",
    "InvalidVersion", "InvariantsViolated", "MaidClient", "MalformedAnswer", "MessagingError",
    "MpidClient", "MpidMessage", "NetworkUnavailable", "NoAnswer", "NoSuchData",
    "NoSuchRecord", "NoSuchVersion", "NotDelivered", "NotOwner", "NotRecordOwner",
    "NotSettled", "OutboxFull", "PutFailure", "RecordExists", "RecordTooLarge",
    "RequestExpired", "StaleVersion", "StructuredError", "StructuredRecord", "Testnet",
    "TestnetError", "TooManyVaults", "TraceIdError", "TreeMode", "VaultRefused", "VersionError",
    "VersionLimit", "VersionName",
]
