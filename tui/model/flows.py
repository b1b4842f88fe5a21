"""Flow folding: one operation's events (a trace) as lane-to-lane steps of the space-time view,
a group's identical steps folded into one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from tui.model.records import FlowStep
from vaultnet.personas import mpid_manager as mpid
from vaultnet.personas import version_manager as vm
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.xor import Name

FOLD_WINDOW = 6
CLIENTS = ("MaidNode", "MpidNode")
SIDED = ("MpidNode", "MpidManager")
"""The messaging personas: a lane per side (whose node, whose managers), in the order of
the first side's lanes in the space-time view."""
MARKS = {EventKind.ACCUMULATED: "accumulated", EventKind.SYNC_COMMITTED: "committed",
         EventKind.CHUNK_STORED: "stored", EventKind.SACRIFICIAL_EVICTED: "evicted",
         EventKind.PUT_FAILURE: "put failure", EventKind.CHUNK_DELETED: "deleted",
         EventKind.CACHE_HIT: "cache hit",
         vm.VERSION_PUT: "version put", vm.VERSION_DELETED: "branch deleted",
         EventKind.STRUCTURED_STORED: "record stored",
         EventKind.STRUCTURED_DELETED: "record deleted",
         mpid.MESSAGE_HELD: "held", mpid.MESSAGE_DELIVERED: "delivered",
         mpid.MESSAGE_REFUSED: "refused"}


def flow_steps(events: list[ev.Event], side: Callable[[str, Name], str]) -> list[FlowStep]:
    """One operation's `events` as lane-to-lane steps (`side` names a messaging persona's
    side), a group's identical steps folded.

    A group's members act at once, so their identical steps interleave (send, sync, send,
    sync ...): a step folds into the nearest identical one among the last FOLD_WINDOW
    steps, unless its vault made one of the steps after that one (a vault's own steps stay
    in the order it made them)."""
    steps: list[FlowStep] = []
    makers: list[set[Name]] = []  # the vaults folded into each step
    start = events[0].time if events else 0.0
    for event in events:
        if isinstance(event, ev.MessageSent) or (
                isinstance(event, ev.MessageReceived) and event.src_persona in CLIENTS):
            step = FlowStep(event.time - start, event.src_persona, event.dst_persona,
                            event.action, src_side=side(event.src_persona, event.src_name),
                            dst_side=side(event.dst_persona, event.dst_name))
        elif isinstance(event, ev.PersonaEvent) and event.what in MARKS:
            lane = side(event.persona, event.subject)
            step = FlowStep(event.time - start, event.persona, event.persona,
                            MARKS[event.what], src_side=lane, dst_side=lane)
        else:
            continue
        recent = range(len(steps) - 1, max(-1, len(steps) - 1 - FOLD_WINDOW), -1)
        same = next((i for i in recent
                     if replace(steps[i], time=step.time, count=1) == step), None)
        if same is not None and not any(event.vault in m for m in makers[same + 1:]):
            steps[same] = replace(steps[same], count=steps[same].count + 1)
            makers[same].add(event.vault)
        else:
            steps.append(step)
            makers.append({event.vault})
    return steps
