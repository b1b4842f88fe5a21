"""`NetworkModel`: everything the views draw, put together from its parts (state and journal,
the dashboard's own operations, ingest of events, sampling of the network, flow folding)."""

from __future__ import annotations

from tui.model.flows import SIDED, flow_steps
from tui.model.records import FlowStep
from tui.model.sampling import Sampling
from vaultnet.xor import Name


class NetworkModel(Sampling):
    """Everything the views draw. Changes come from events (`ingest`), samples of the network
    (`observe` = `sample` + `apply`) and the dashboard's own operations (`add_chunk`, ...);
    those are `journaled`, so a recording holds every change and a replay can redo it."""

    def flow_steps(self, trace: bytes) -> list[FlowStep]:
        """The operation `trace` as lane-to-lane steps, a group's identical steps folded
        (`tui.model.flows`)."""
        return flow_steps(self.traces.get(trace, []), self._side)

    def _side(self, persona: str, name: Name) -> str:
        """Whose lane a messaging persona's message is on (the other personas have one)."""
        return self.label(name) if persona in SIDED and name else ""

