"""One operation end to end as a space-time diagram: persona lanes across, time downwards, an
arrow per message (runs of the same message from a group's members folded into "xn"), and
marks on a lane where a group accumulated, committed a sync, stored or evicted a copy, put a
version, held or delivered a message.

The messaging personas get one lane per side (whose MpidNode, whose MpidManager group), laid
out as a mirror: the sender's node and managers, then the recipient's managers and node, so a
send reads MpidNode → MpidManager → MpidManager → MpidNode from left to right."""

from __future__ import annotations

from tui.model import SIDED, FlowStep, NetworkModel
from tui.widgets.panel import Panel
from vaultnet.xor import short

LANES = ("MaidNode", "MaidManager", "DataManager", "PmidManager", "PmidNode", "VersionManager",
         "MpidManager")
SHORT = {"VersionManager": "VersionMgr"}  # lane headers longer than LANE_WIDTH - 1
LANE_WIDTH = 14
MAX_ROWS = 400

Lane = tuple[str, str]  # (persona, side)


def lanes_of(steps: list[FlowStep]) -> list[Lane]:
    """The lanes the steps use: the unsided personas in LANES order, then for each side (in
    order of appearance) its messaging personas, mirrored for every other side."""
    used: dict[Lane, None] = {}
    for step in steps:
        used.setdefault(step.src_lane)
        used.setdefault(step.dst_lane)
    lanes = [(p, "") for p in LANES if (p, "") in used]
    lanes += [lane for lane in used if lane[1] == "" and lane not in lanes]
    sides = list(dict.fromkeys(side for _, side in used if side))
    for i, side in enumerate(sides):
        personas = SIDED if i % 2 == 0 else tuple(reversed(SIDED))
        lanes += [(p, side) for p in personas if (p, side) in used]
    return lanes


def _lane_line(step: FlowStep, lanes: list[Lane]) -> str:
    cells = [" " * (LANE_WIDTH // 2) + "│" + " " * (LANE_WIDTH - LANE_WIDTH // 2 - 1)
             for _ in lanes]
    line = list("".join(cells))
    a, b = lanes.index(step.src_lane), lanes.index(step.dst_lane)
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


class SpaceTime(Panel):
    """The followed operation as a space-time diagram."""

    DEFAULT_CSS = "SpaceTime { height: auto; padding: 0 1; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the followed operation's steps."""
        trace = model.followed_trace
        if trace is None:
            self.update("no operation followed yet: put a chunk (p), or follow a chunk's trace "
                        "(t in the Chunks tab), a version tree's or a message's (t in tab 6)")
            return
        steps = model.flow_steps(trace)
        lanes = lanes_of(steps)
        header = " " * 10 + "".join(SHORT.get(p, p)[:LANE_WIDTH - 1].center(LANE_WIDTH)
                                    for p, _ in lanes)
        if any(side for _, side in lanes):
            header += "\n" + " " * 10 + "".join(side[:LANE_WIDTH - 1].center(LANE_WIDTH)
                                                for _, side in lanes)
        rows = [_lane_line(step, lanes) for step in steps[:MAX_ROWS]]
        more = f"\n… {len(steps) - MAX_ROWS} more steps" if len(steps) > MAX_ROWS else ""
        self.update(f"[b]trace {short(trace, 12)}[/]  {len(steps)} steps\n{header}\n"
                    + "\n".join(rows) + more)
