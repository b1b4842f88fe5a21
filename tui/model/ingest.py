"""Ingest: batches of events folded into the message log, view 4's rows, counters and traces."""

from __future__ import annotations

from typing import Any

from tui.model.logs import (
    CHURN,
    EVICTION,
    FAULT,
    INTEGRITY,
    PUT_FAILED,
    RANK,
    REMOVED,
    REPLICATED,
    VAULT,
)
from tui.model.state import EVENTS_PER_TRACE, TRACES_KEPT, journaled
from tui.model.tracking import Tracking
from vaultnet.personas import mpid_manager as mpid
from vaultnet.personas import version_manager as vm
from vaultnet.personas.bodies import FAILED_CHECK
from vaultnet.personas.integrity import INTEGRITY_FAILED
from vaultnet.personas.pmid_node import EVICTED
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.xor import Name, short

FLOW_EVENTS = (ev.MessageReceived,)


def _name_or(detail: dict[str, Any], key: str, default: Name) -> Name:
    """`detail[key]` if it is a name (bytes), else `default`."""
    value = detail.get(key)
    return value if isinstance(value, bytes) else default



class Ingest(Tracking):
    """Events in: `ingest` and the rows and lines it makes of them."""

    @journaled
    def ingest(self, batch: list[ev.Event]) -> None:
        """Fold a batch of events into the logs, counters and traces."""
        for event in batch:
            if self._start is None:
                self._start = event.time
            self.summary.events += 1
            trace = getattr(event, "trace", b"")
            if trace:
                self._remember(trace, event)
            if isinstance(event, FLOW_EVENTS):
                self.flow.append(self._flow_line(event))
            elif isinstance(event, ev.PersonaEvent):
                self._persona_event(event)
            elif isinstance(event, ev.Churn):
                self.summary.churn += 1
                self._churn_row(event)
            elif isinstance(event, ev.FaultInjected):
                faults = self.faults.setdefault(event.vault, set())
                if event.fault == "heal":
                    faults.clear()
                else:
                    faults.add(event.fault)
                self.events.add(self._since(event), FAULT, event.vault, event.vault,
                                detail="healed" if event.fault == "heal" else event.fault)
            elif isinstance(event, ev.VaultUp):
                self.events.add(self._since(event), VAULT, event.vault, event.vault, detail="up")
            elif isinstance(event, ev.VaultDown):
                self.events.add(self._since(event), VAULT, event.vault, event.vault,
                                detail=f"down: {event.reason}" if event.reason else "down")

    def _since(self, event: ev.Event) -> float:
        return event.time - (event.time if self._start is None else self._start)

    def _t(self, event: ev.Event) -> str:
        return f"{self._since(event):8.2f}s"

    def _churn_row(self, e: ev.Churn) -> None:
        """A vault gone from (or new in) the close group of the vault reporting it: one row
        per vault that left or joined, the vaults that saw it folded in."""
        name, how = (e.lost, "left") if e.lost else (e.added, "joined")
        if name:
            self.events.add(self._since(e), CHURN, name, e.vault, detail=f"{how} close groups",
                            key=(name, how))

    def _flow_line(self, e: ev.MessageReceived) -> str:
        group = "group " if e.group else ""
        return (f"{self._t(e)} {short(e.vault)} {e.src_persona:>11} → {e.dst_persona:<11} "
                f"{e.action:<18} {group}{short(e.dst_name)} trace {short(e.trace, 6)}")

    def _persona_event(self, e: ev.PersonaEvent) -> None:
        if e.what == EventKind.SACRIFICIAL_EVICTED:
            self.summary.evictions += 1
        elif e.what in (vm.VERSION_PUT, vm.VERSION_DELETED):
            self.track_versioned(e.subject, trace=e.trace)
        elif e.what in (mpid.MESSAGE_HELD, mpid.MESSAGE_DELIVERED, mpid.MESSAGE_REFUSED):
            self._message_event(e)
        self._note_row(e)

    def _note_row(self, e: ev.PersonaEvent) -> None:
        """A persona's note as a row of view 4, if it is one of its kinds. A PmidNode's
        eviction and its PmidManagers' record of it (a put failure giving EVICTED as reason)
        are one eviction row."""
        d, at, subject, trace = e.detail, self._since(e), e.subject, e.trace
        holder = _name_or(d, "holder", e.vault)
        kind = f"{d['kind']} copy" if "kind" in d else "copy"
        reason = str(d.get("reason", ""))
        if e.what == EventKind.SACRIFICIAL_EVICTED or (e.what == EventKind.PUT_FAILURE
                                                   and reason == EVICTED):
            node = _name_or(d, "node", e.vault)
            size = f", {d['size']} B" if "size" in d else ""
            primary = (f" for primary {short(d['for_copy'])}"
                       if isinstance(d.get("for_copy"), bytes) else " for a primary")
            self.events.add(at, EVICTION, node, e.vault, subject, trace,
                            f"S copy{size} evicted{primary}", key=(subject, trace, node))
        elif e.what == EventKind.PUT_FAILURE:
            node = _name_or(d, "node", e.vault)
            self.events.add(at, PUT_FAILED, node, e.vault, subject, trace,
                            f"{kind} refused: {reason}", key=(subject, trace, node))
        elif e.what == EventKind.HOLDER_REMOVED:
            self.events.add(at, REMOVED, holder, e.vault, subject, trace, f"{kind}: {reason}",
                            key=(subject, trace, holder))
        elif e.what == EventKind.REPLICATED:
            self.events.add(at, REPLICATED, holder, e.vault, subject, trace,
                            f"{kind} put on a new holder", key=(subject, trace, holder))
        elif e.what == EventKind.RANK_CHANGED:
            before, after = d.get("before"), d.get("rank")
            change = (f"{before:.2f} → {after:.2f}" if isinstance(before, float | int)
                      and isinstance(after, float | int) else "changed")
            self.events.add(at, RANK, subject, e.vault, b"", trace, f"{change}: {reason}",
                            key=(subject, trace, reason, after))
        elif e.what == INTEGRITY_FAILED:
            self.events.add(at, INTEGRITY, holder, e.vault, subject, trace,
                            f"{FAILED_CHECK}: holder removed", key=(subject, holder))

    def _remember(self, trace: bytes, event: ev.Event) -> None:
        events = self.traces.get(trace)
        if events is None:
            events = self.traces[trace] = []
            while len(self.traces) > TRACES_KEPT:
                oldest = next(iter(self.traces))
                if oldest == self.followed_trace:
                    self.traces.move_to_end(oldest)
                    oldest = next(iter(self.traces))
                del self.traces[oldest]
        if len(events) < EVENTS_PER_TRACE:
            events.append(event)

