"""What the dashboard shows, as plain records.

`NetworkModel.ingest` folds batches of events (drained on a timer, never one message per event)
into bounded logs, view 4's `EventLog` and counters; `NetworkModel.observe` turns a reading of the
network (`vaultnet.control.reading`: vault stores, PmidManager accounts, routing, taken in process
or by an attached testnet) into `VaultRow`s, chunk holdings and rank history. The widgets render
the model and nothing else, so a frozen model renders the same screen every time (the snapshot
tests use that).

One module per part: `records` (the records), `logs` (view 4's rows, the message log), `state`
(the fields and the journal), `tracking` (the dashboard's own operations), `ingest` (events),
`sampling` (readings of the network), `geometry` (XOR distances), `flows` (the space-time
view's folding) and `network_model` (all of them together).
"""

from tui.model.flows import CLIENTS, FOLD_WINDOW, MARKS, SIDED
from tui.model.geometry import XOR_ROWS
from tui.model.logs import (
    CHURN,
    EVENT_KINDS,
    EVENT_ROWS,
    EVICTION,
    FAULT,
    FOLD_SECONDS,
    INTEGRITY,
    PUT_FAILED,
    RANK,
    REMOVED,
    REPLICATED,
    VAULT,
    BoundedLog,
    EventLog,
    EventRow,
)
from tui.model.network_model import NetworkModel
from tui.model.records import (
    ChunkInfo,
    FlowStep,
    MessageInfo,
    Sample,
    StructuredRow,
    Summary,
    VaultRow,
    VersionedItem,
    XorBlock,
    XorRow,
)
from tui.model.state import (
    CHUNKS_KEPT,
    EVENTS_PER_TRACE,
    LOG_LINES,
    MESSAGES_KEPT,
    MESSAGES_SAMPLED,
    RANK_HISTORY,
    TRACES_KEPT,
    VERSIONED_KEPT,
    Journal,
    journaled,
)

__all__ = [
    "CHUNKS_KEPT",
    "CHURN",
    "CLIENTS",
    "EVENTS_PER_TRACE",
    "EVENT_KINDS",
    "EVENT_ROWS",
    "EVICTION",
    "FAULT",
    "FOLD_SECONDS",
    "FOLD_WINDOW",
    "INTEGRITY",
    "LOG_LINES",
    "MARKS",
    "MESSAGES_KEPT",
    "MESSAGES_SAMPLED",
    "PUT_FAILED",
    "RANK",
    "RANK_HISTORY",
    "REMOVED",
    "REPLICATED",
    "SIDED",
    "TRACES_KEPT",
    "VAULT",
    "VERSIONED_KEPT",
    "XOR_ROWS",
    "BoundedLog",
    "ChunkInfo",
    "EventLog",
    "EventRow",
    "FlowStep",
    "Journal",
    "MessageInfo",
    "NetworkModel",
    "Sample",
    "StructuredRow",
    "Summary",
    "VaultRow",
    "VersionedItem",
    "XorBlock",
    "XorRow",
    "journaled",
]
