"""What a client operation raises, the one table from a refusal's wire code (`ErrorCode`, the
`error` field of a manager's answer) to the exception it raises, and the one way a client reads
an answer's body: as the typed record its action carries (`read_answer`), an answer that is not
one raising `MalformedAnswer`.

`vaultnet.client.maid` and `vaultnet.client.mpid` re-export these under their old names.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from vaultnet.messages import ID_SIZE, Message
from vaultnet.personas.bodies import Body
from vaultnet.protocol import ErrorCode
from vaultnet.wire import MAX_CHUNK_SIZE, FrameError
from vaultnet.xor import Name

ErrorT = TypeVar("ErrorT", bound="ClientError")
BodyT = TypeVar("BodyT", bound=Body)
T = TypeVar("T")


class ClientError(Exception):
    """Base of the errors a client operation raises."""


class PutFailure(ClientError):
    """A put the network refused (`.reason` says why)."""

    def __init__(self, name: Name, reason: str) -> None:
        super().__init__(f"put of {name.hex()[:16]} refused: {reason}")
        self.name = name
        self.reason = reason


class DataExists(PutFailure):
    """A Put<Unique> (`put(data, unique=True)`) of a chunk the network already holds."""


class NoSuchData(ClientError):
    """A get no copy of the chunk could answer."""

    def __init__(self, name: Name, reason: str = "no such data") -> None:
        super().__init__(f"{name.hex()[:16]}: {reason}")
        self.name = name


class DeleteFailure(ClientError):
    """A delete the network did not confirm. The network answers every delete with success
    (for a chunk your account does not hold, it changes nothing), so in practice this is its
    `DeleteNoAnswer` twin."""

    def __init__(self, name: Name, reason: str) -> None:
        super().__init__(f"delete of {name.hex()[:16]} refused: {reason}")
        self.name = name
        self.reason = reason


class NetworkUnavailable(ClientError):
    """No bootstrap vault could be reached, or the connection was lost."""


class NoAnswer(ClientError):
    """No answer within the client's timeout, every attempt included: not a refusal (the
    network may still have acted on the request). Each operation raises its own subclass,
    which is also that operation's failure type (a PutNoAnswer is a PutFailure), so code
    that handles a failed put handles one that timed out; only the message differs."""

    def __init__(self, what: str, seconds: float, *failure: Any) -> None:
        super().__init__(*failure)  # the operation's failure type sets its fields
        self.seconds = seconds
        self.args = (f"{what}: no answer from the network within {seconds:g} s",)


class PutNoAnswer(NoAnswer, PutFailure):
    """A put nobody answered in time."""


class GetNoAnswer(NoAnswer, NoSuchData):
    """A get no holder of any copy answered in time."""


class DeleteNoAnswer(NoAnswer, DeleteFailure):
    """A delete nobody answered in time."""


class ChunkSizeError(ClientError):
    """Content that cannot be a chunk: empty (on the wire an empty payload means "no content",
    so an empty chunk could not be told from a missing one) or over MAX_CHUNK_SIZE."""

    def __init__(self, size: int) -> None:
        what = "it is empty" if size == 0 else f"it is {size} bytes"
        super().__init__(f"{what}; a chunk is 1 to {MAX_CHUNK_SIZE} bytes")
        self.size = size


class TraceIdError(ClientError):
    """A `trace` given to a client operation that is not ID_SIZE bytes: vaults refuse the
    frame (and close the connection), so the client says so before sending anything."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a trace id is {ID_SIZE} bytes, not {size} "
                         "(use the client's new_id())")
        self.size = size


class RequestExpired(ClientError):
    """The managers refused a request dated outside their replay window (a replayed request,
    or a clock far from the network's)."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action} refused: {reason}")
        self.action = action
        self.reason = reason


class MalformedAnswer(ClientError):
    """An answer the client cannot read as the record its action carries (a field missing or
    of the wrong type): it is not believed, whatever it says. `.action` is the answer's action,
    `.reason` what is wrong with it."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"malformed {action} from the network: {reason}")
        self.action = action
        self.reason = reason


class VersionError(ClientError):
    """A version operation the network refused; `.reason` says why."""

    def __init__(self, key: Name, reason: str) -> None:
        super().__init__(f"versions at {key.hex()[:16]}: {reason}")
        self.key = key
        self.reason = reason


class InvalidVersion(VersionError):
    """Refused parent or version: a second root, a re-parented version, a cycle, a non-tip, or
    a chunk not stored in this client's account."""


class NoSuchVersion(VersionError):
    """No tree at the key, or the named version is not in it."""


class VersionLimit(VersionError):
    """The put would exceed the tree's branch limit."""


class NotOwner(VersionError):
    """The tree's mode and owners do not let this client do that (write a tree it does not
    own, read a private or shared tree it is not an owner of)."""


class VersionNoAnswer(NoAnswer, VersionError):
    """A version request nobody answered in time."""


class StructuredError(ClientError):
    """A structured data operation the network (or the client's own check) refused; `.reason`
    says why."""

    def __init__(self, name: Name, reason: str) -> None:
        super().__init__(f"structured data at {name.hex()[:16]}: {reason}")
        self.name = name
        self.reason = reason


class RecordExists(StructuredError):
    """A put of a record at a name that already holds one."""


class NoSuchRecord(StructuredError):
    """No record at the name."""


class NotRecordOwner(StructuredError):
    """An update or delete the record's owner key did not sign."""


class StaleVersion(StructuredError):
    """An update whose version is not the stored one plus one, or a delete of a version that
    is not the stored one: someone else changed the record first."""


class InvalidSignature(StructuredError):
    """A record whose owner's signature does not verify (refused by the managers on a put or
    update, by the client on a get: the group's answer is not believed)."""


class RecordTooLarge(StructuredError):
    """A record's data over the size limit (`MAX_DATA_SIZE`)."""


class AllowanceExceeded(StructuredError):
    """A put or update whose data would take this client's account past its allowance (the
    refusal a chunk's put gets as "allowance exceeded")."""


class StructuredNoAnswer(NoAnswer, StructuredError):
    """A structured data request nobody answered in time."""


class MessagingError(ClientError):
    """A messaging request the network refused; `.reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Blocked(MessagingError):
    """The recipient blacklisted the sender, or keeps a whitelist the sender is not on."""


class InboxFull(MessagingError):
    """The recipient's managers hold as many messages for it as they may."""


class OutboxFull(MessagingError):
    """Too many of this sender's messages still await the recipient's managers' answer."""


class NotDelivered(MessagingError):
    """No answer from the recipient's managers (or no answer at all)."""


class VaultRefused(ClientError):
    """A vault registration or unregistration the network refused; `.reason` says why."""

    def __init__(self, vault: Name, reason: str) -> None:
        super().__init__(f"vault {vault.hex()[:16]}: {reason}")
        self.vault = vault
        self.reason = reason


class InvalidRegistration(VaultRefused):
    """A registration the client's MAID key and the vault's PMID key did not both sign."""


class TooManyVaults(VaultRefused):
    """A registration past the most vaults one client may register (`MAX_VAULTS`)."""


class VaultNoAnswer(NoAnswer, VaultRefused):
    """A vault registration or unregistration nobody answered in time."""


ERRORS: dict[ErrorCode, type[ClientError]] = {
    ErrorCode.DATA_EXISTS: DataExists,
    ErrorCode.INVALID_PARAMETER: InvalidVersion,
    ErrorCode.ACCOUNT_REFUSED: InvalidVersion,
    ErrorCode.NO_SUCH_ELEMENT: NoSuchVersion,
    ErrorCode.CANNOT_EXCEED_LIMIT: VersionLimit,
    ErrorCode.NOT_OWNER: NotOwner,
    ErrorCode.BLOCKED: Blocked,
    ErrorCode.INBOX_FULL: InboxFull,
    ErrorCode.OUTBOX_FULL: OutboxFull,
    ErrorCode.NOT_DELIVERED: NotDelivered,
    ErrorCode.INVALID_REGISTRATION: InvalidRegistration,
    ErrorCode.TOO_MANY_VAULTS: TooManyVaults,
}
"""Refusal code -> the exception a client raises for it. A code not here (MessageTooLarge,
ListFull, ...) raises its operation's general failure (`refusal`'s `family`)."""

STRUCTURED_ERRORS: dict[ErrorCode, type[ClientError]] = {
    ErrorCode.DATA_EXISTS: RecordExists,
    ErrorCode.NO_SUCH_ELEMENT: NoSuchRecord,
    ErrorCode.NOT_OWNER: NotRecordOwner,
    ErrorCode.STALE_VERSION: StaleVersion,
    ErrorCode.INVALID_SIGNATURE: InvalidSignature,
    ErrorCode.DATA_TOO_LARGE: RecordTooLarge,
    ErrorCode.ALLOWANCE_EXCEEDED: AllowanceExceeded,
}
"""The table for structured data refusals: the same codes as the chunks' and trees' (DataExists,
NotOwner, NoSuchElement) mean their own exceptions there."""


_CODES = frozenset(ErrorCode)


def refusal(code: object, family: type[ErrorT],
            table: dict[ErrorCode, type[ClientError]] = ERRORS) -> type[ErrorT]:
    """The exception class for an answer refused with `code` by an operation whose failures
    are `family` (PutFailure, VersionError, MessagingError, StructuredError): `table`'s class
    when it is one of that family, else `family` itself."""
    cls = table.get(ErrorCode(code)) if isinstance(code, str) and code in _CODES else None
    return cls if cls is not None and issubclass(cls, family) else family


class Refusal(Protocol):
    """What a refusing answer says (`PutRefusedBody`, `VersionAnswerBody`, `MpidAnswerBody`):
    its wire code, if it gave one, and why."""

    @property
    def error(self) -> ErrorCode | None:
        """The refusal's wire code (None: it gave none)."""

    @property
    def reason(self) -> str | None:
        """Why it was refused (None: it did not say)."""


def refused(answer: Refusal, family: type[ErrorT], *subject: object,
            table: dict[ErrorCode, type[ClientError]] = ERRORS) -> ErrorT:
    """The exception to raise for the refusing `answer` to an operation whose failures are
    `family` (its class from `table`), built from the operation's `subject` (a chunk's name, a
    tree's key, or nothing) and the answer's reason ("refused" if it gave none)."""
    reason = "refused" if answer.reason is None else answer.reason
    return refusal(answer.error, family, table)(*subject, reason)


def read_answer(answer: Message, record: type[BodyT]) -> BodyT:
    """`answer`'s body as `record`, the one its action carries: a malformed answer is a
    MalformedAnswer for the operation's caller, never a FrameError or KeyError from inside."""
    try:
        return answer.typed(record)
    except FrameError as exc:
        raise MalformedAnswer(answer.action, str(exc)) from None


def carried(value: T | None, action: str, field: str) -> T:
    """`value`, the field `field` an answer of `action` leaves out for other requests but must
    carry for this one; MalformedAnswer if it was left out."""
    if value is None:
        raise MalformedAnswer(action, f"body field {field!r} missing")
    return value
