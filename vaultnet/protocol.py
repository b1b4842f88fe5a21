"""The protocol's vocabulary, as enums: what a message asks (`Action`), what a group agrees on
(`Op`), what a persona or the runtime reports (`EventKind`) and why a request was refused
(`ErrorCode`). Protocol core: no I/O, nothing imported but the standard library.

Every enum is a `StrEnum` whose values are the strings the network used before it existed, so a
member packs (msgpack) and hashes (message ids, signatures, sync votes) exactly as those strings
did: the wire format is unchanged. A string that is not a member is malformed input wherever it
is decoded (`Action.decode`, `Op.decode` raise `FrameError`).
"""

from __future__ import annotations

import enum

from vaultnet.wire import FrameError


class Action(enum.StrEnum):
    """What a message asks of its destination (`Message.action`). Each persona handles the
    actions in its `HANDLERS` table (see `vaultnet.personas.dispatch.handles`)."""

    # requests a client (MaidNode, MpidNode) sends its managers: CLIENT_ACTIONS
    PUT = "put"
    GET = "get"
    DELETE = "delete"
    PUT_VERSION = "put_version"
    DELETE_BRANCH = "delete_branch"
    GET_VERSIONS = "get_versions"
    GET_BRANCH = "get_branch"
    PUT_STRUCTURED = "put_structured"
    UPDATE_STRUCTURED = "update_structured"
    DELETE_STRUCTURED = "delete_structured"
    GET_STRUCTURED = "get_structured"
    ONLINE = "online"
    SEND = "send"
    ACK = "ack"
    CHANGE_LIST = "change_list"
    GET_LISTS = "get_lists"
    GET_INBOX = "get_inbox"
    REGISTER_VAULT = "register_vault"
    UNREGISTER_VAULT = "unregister_vault"
    # answers to a client
    PUT_OK = "put_ok"
    PUT_FAILURE = "put_failure"  # also a PmidNode's / PmidManagers' refused or evicted copy
    DELETE_OK = "delete_ok"
    GET_RESPONSE = "get_response"
    VERSION_ANSWER = "version_answer"
    STRUCTURED_ANSWER = "structured_answer"
    MPID_ANSWER = "mpid_answer"
    MESSAGE = "message"
    SYNCHRONISING = "synchronising"
    REQUEST_EXPIRED = "request_expired"
    VAULT_ANSWER = "vault_answer"
    # between personas
    EXISTS = "exists"
    EXISTS_ANSWER = "exists_answer"
    PUT_RESPONSE = "put_response"
    VERSION_RESULT = "version_result"
    STRUCTURED_RESULT = "structured_result"
    DELIVER = "deliver"
    DELIVERY = "delivery"
    OFFLINE = "offline"
    STORE = "store"
    STORED = "stored"
    CORRECTION = "correction"
    CONTENT_WANTED = "content_wanted"
    HOLDING = "holding"
    RECONCILE = "reconcile"
    FETCH = "fetch"
    FETCH_RESPONSE = "fetch_response"
    SIBLING_FETCH = "sibling_fetch"
    SIBLING_CONTENT = "sibling_content"
    CHALLENGE = "challenge"
    CHALLENGE_RESPONSE = "challenge_response"
    INTEGRITY_FAILURE = "integrity_failure"
    CAPACITY = "capacity"
    GET_PMID_HEALTH = "get_pmid_health"
    PMID_HEALTH = "pmid_health"
    RECORD_CHECK = "record_check"
    SEND_ACCOUNT = "send_account"  # PmidManagers -> a rejoining PmidNode: its account, paged
    # group plumbing every manager persona shares (`GroupPersona`)
    SYNC = "sync"
    TRANSFER = "transfer"
    TRANSFER_QUERY = "transfer_query"
    PAYLOAD_WANTED = "payload_wanted"
    # the routing layer's own
    PROBE = "probe"

    @classmethod
    def decode(cls, value: object) -> Action:
        """The action named `value` on the wire; FrameError if it names none (a malformed
        frame, which costs its sender the message, never the vault)."""
        action = _ACTIONS.get(value) if isinstance(value, str) else None
        if action is None:
            raise FrameError(f"unknown action {str(value)[:64]!r}")
        return action


_ACTIONS: dict[str, Action] = {a.value: a for a in Action}
"""Decoding is one dict lookup: it runs for every message a vault receives."""


class Op(enum.StrEnum):
    """What a group agrees on by sync before committing it: the `op` of a proposal (see
    `GroupPersona.propose`). Each persona commits the ops in its `COMMITS` table."""

    PUT = "put"
    DELETE = "delete"
    # DataManager
    REMOVE_PMID = "remove_pmid"
    UNSUBSCRIBE = "unsubscribe"
    INTEGRITY_FAILED = "integrity_failed"
    # PmidManager
    FAILED = "failed"
    CORRECT = "correct"
    CAPACITY = "capacity"
    # MaidManager
    REGISTER_VAULT = "register_vault"
    UNREGISTER_VAULT = "unregister_vault"
    HEALTH = "health"
    RECORD_CHARGE = "record_charge"
    # VersionManager
    PUT_VERSION = "put_version"
    DELETE_BRANCH = "delete_branch"
    PUT_STRUCTURED = "put_structured"
    UPDATE_STRUCTURED = "update_structured"
    DELETE_STRUCTURED = "delete_structured"
    # MpidManager
    SEND = "send"
    ONLINE = "online"
    OFFLINE = "offline"
    ACK = "ack"
    CHANGE_LIST = "change_list"
    DELIVER = "deliver"
    DELIVERED = "delivered"

    @classmethod
    def decode(cls, value: object) -> Op:
        """The op named `value` in an agreed action record; FrameError if it names none."""
        op = _OPS.get(value) if isinstance(value, str) else None
        if op is None:
            raise FrameError(f"unknown sync op {str(value)[:64]!r}")
        return op


_OPS: dict[str, Op] = {o.value: o for o in Op}


class EventKind(enum.StrEnum):
    """What a `PersonaEvent` reports (its `what`): a persona's note, or one the runtime emits
    for itself. The dashboard, recordings and tests key on these."""

    CHUNK_STORED = "chunk_stored"
    CHUNK_DELETED = "chunk_deleted"
    SACRIFICIAL_EVICTED = "sacrificial_evicted"
    PUT_FAILURE = "put_failure"
    HOLDER_ADDED = "holder_added"
    HOLDER_REMOVED = "holder_removed"
    REPLICATED = "replicated"
    SYNC_COMMITTED = "sync_committed"
    SYNC_ALREADY_APPLIED = "sync_already_applied"
    RANK_CHANGED = "rank_changed"
    ACCUMULATED = "accumulated"
    FIREWALL_ANSWERED = "firewall_answered"
    ACCOUNT_TRANSFERRED = "account_transferred"
    TRANSFER_DISPUTED = "transfer_disputed"
    HOLDERS_ADOPTED = "holders_adopted"
    REQUEST_EXPIRED = "request_expired"
    COPY_PUT_RESENT = "copy_put_resent"
    INTEGRITY_FAILED = "integrity_failed"
    VERSION_PUT = "version_put"
    VERSION_DELETED = "version_deleted"
    STRUCTURED_STORED = "structured_stored"
    STRUCTURED_DELETED = "structured_deleted"
    MESSAGE_HELD = "message_held"
    MESSAGE_DELIVERED = "message_delivered"
    MESSAGE_REFUSED = "message_refused"
    MPID_OFFLINE = "mpid_offline"
    # the runtime's own (vaultnet.runtime.vault)
    CACHE_HIT = "cache_hit"
    REJOINING = "rejoin"


class ErrorCode(enum.StrEnum):
    """Why a manager refused a request: the `error` field of its answer. The clients map each
    to an exception class in one table (`vaultnet.client.errors.ERRORS`)."""

    # puts (MaidManager)
    DATA_EXISTS = "DataExists"
    # versions (MaidManager, VersionManager; the version tree's errors by their class name)
    ACCOUNT_REFUSED = "AccountRefused"
    INVALID_PARAMETER = "InvalidParameter"
    NO_SUCH_ELEMENT = "NoSuchElement"
    CANNOT_EXCEED_LIMIT = "CannotExceedLimit"
    NOT_OWNER = "NotOwner"
    # structured data (MaidManager, VersionManager; also DataExists, NotOwner, NoSuchElement)
    STALE_VERSION = "StaleVersion"
    INVALID_SIGNATURE = "InvalidSignature"
    DATA_TOO_LARGE = "DataTooLarge"
    ALLOWANCE_EXCEEDED = "AllowanceExceeded"
    # messaging (MpidManager)
    MESSAGE_TOO_LARGE = "MessageTooLarge"
    OUTBOX_FULL = "OutboxFull"
    INBOX_FULL = "InboxFull"
    BLOCKED = "Blocked"
    NOT_DELIVERED = "NotDelivered"
    LIST_FULL = "ListFull"
    # vault registration (MaidManager)
    INVALID_REGISTRATION = "InvalidRegistration"
    TOO_MANY_VAULTS = "TooManyVaults"
