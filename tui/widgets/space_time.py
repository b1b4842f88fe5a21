"""One operation end to end as a space-time diagram: persona lanes across, time downwards, an
arrow per message (runs of the same message from a group's members folded into "xn"), and
marks on a lane where a group accumulated, committed a sync, stored or evicted a copy."""

from __future__ import annotations

from textual.widgets import Static

from tui.model import FlowStep, NetworkModel
from vaultnet.xor import short

LANES = ("MaidNode", "MaidManager", "DataManager", "PmidManager", "PmidNode", "VersionManager",
         "MpidManager")
LANE_WIDTH = 14
MAX_ROWS = 400


def _lane_line(step: FlowStep, lanes: list[str]) -> str:
    cells = [" " * (LANE_WIDTH // 2) + "│" + " " * (LANE_WIDTH - LANE_WIDTH // 2 - 1)
             for _ in lanes]
    line = list("".join(cells))
    a, b = lanes.index(step.src), lanes.index(step.dst)
    centre_a, centre_b = a * LANE_WIDTH + LANE_WIDTH // 2, b * LANE_WIDTH + LANE_WIDTH // 2
    if a == b:
        line[centre_a] = "◆"
    else:
        lo, hi = min(centre_a, centre_b), max(centre_a, centre_b)
        for i in range(lo + 1, hi):
            line[i] = "─"
        line[centre_b] = "▶" if b > a else "◀"
        line[centre_a] = "●"
    count = f" x{step.count}" if step.count > 1 else ""
    return f"{step.time * 1000:7.0f}ms {''.join(line)}  {step.label}{count}"


class SpaceTime(Static):
    DEFAULT_CSS = "SpaceTime { height: auto; padding: 0 1; }"

    def show(self, model: NetworkModel) -> None:
        trace = model.followed_trace
        if trace is None:
            self.update("no operation followed yet: put a chunk (p), or follow a chunk's trace "
                        "(t in the Chunks tab)")
            return
        steps = model.flow_steps(trace)
        lanes = [lane for lane in LANES if any(lane in (s.src, s.dst) for s in steps)]
        header = " " * 10 + "".join(lane[:LANE_WIDTH - 1].center(LANE_WIDTH) for lane in lanes)
        rows = [_lane_line(step, lanes) for step in steps[:MAX_ROWS]]
        more = f"\n… {len(steps) - MAX_ROWS} more steps" if len(steps) > MAX_ROWS else ""
        self.update(f"[b]trace {short(trace, 12)}[/]  {len(steps)} steps\n{header}\n"
                    + "\n".join(rows) + more)
