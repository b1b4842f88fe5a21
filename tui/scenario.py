"""The scenario tour (`vaultnet tui --tour`): the guided tour that acts on the network. Each
scene does something to the live network (puts a chunk and follows it across the personas,
shows its three copies, fills the vaults until one evicts a Sacrificial copy, makes a vault lie
until its rank sinks, kills a vault and waits for its copies to be re-replicated) and narrates,
in a panel beside the views, what happened, what to look at and what the words mean. A scene's
action starts when it is shown and only once; enter waits until it has finished (its result
is in the panel), escape leaves and cancels what is still running.

The scenes use only what the keys use: the `NetworkHandle`'s operations and the model, so
the tour also runs attached to a testnet (whose vaults must be small to fill: see
TOUR_CAPACITY).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from tui.live import LiveApp
from tui.messages import ModelRefreshed
from tui.model import INTEGRITY, RANK, EventRow, NetworkModel
from tui.tour import Step, TourPanel
from tui.views.base import EXPECTED
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.event_table import EventTable
from tui.widgets.ranking import RankingView
from tui.widgets.space_time import SpaceTime
from tui.widgets.vault_table import VaultTable
from vaultnet.client.maid import MAX_CHUNK_SIZE
from vaultnet.control.handle import NetworkHandle
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.personas.pmid_manager import RANK_FLOOR
from vaultnet.xor import Name, short

TOUR_VAULTS = 8
"""Vaults of the tour's network: few enough that each holds a visible share of every chunk."""
TOUR_CAPACITY = 96 * 1024
"""Each vault's bytes on the tour's network: small, so a few puts fill vaults and a Primary
arriving at a full one evicts a Sacrificial copy (on the default 1 GiB nothing is ever full)."""
FIRST_CHUNK = 4096
FILLERS = 30
"""Puts at most before the eviction scene gives up."""
POLL = 0.1
KINDS = ("P", "B", "S")


class ScenarioFailed(Exception):
    """A scene's effect did not happen in its time: the panel says which and why."""


class Stage:
    """What the scenes act on (the dashboard's network and model) and what they found, for
    the next scene and for the tests to check."""

    def __init__(self, app: LiveApp) -> None:
        """The stage of `app`'s network."""
        self.app = app
        self.chunk: Name | None = None  # the chunk followed from the first scene on
        self.evicted = 0  # evictions the eviction scene saw
        self.liar: Name | None = None
        self.liar_rank: float = 1.0  # its rank when it started to lie
        self.victim: Name | None = None  # the vault the churn scene killed
        self.victim_copies: list[tuple[Name, str]] = []  # (chunk, kind) it held

    @property
    def model(self) -> NetworkModel:
        """The dashboard's model, which the drain keeps up to date."""
        return self.app.model

    def network(self) -> NetworkHandle:
        """The network the dashboard drives (the tour starts acting once it is ready)."""
        assert self.app.network is not None
        return self.app.network

    async def until(self, condition: Callable[[], object], seconds: float, what: str) -> float:
        """Wait (polling the model, which the drain keeps up to date) until `condition`
        holds; the seconds waited, or ScenarioFailed after `seconds`."""
        start = trio.current_time()
        with trio.move_on_after(seconds):
            while not condition():
                await trio.sleep(POLL)
            return trio.current_time() - start
        raise ScenarioFailed(f"{what}: not seen within {seconds:.0f} s")

    def holders(self, chunk: Name, kind: str) -> list[Name]:
        """The vaults last sampled holding the `kind` copy of `chunk`."""
        info = self.model.chunks.get(chunk)
        return list(info.holders.get(kind, [])) if info is not None else []

    def up(self, vault: Name) -> bool:
        """The vault was up at the last sample."""
        row = self.model.vaults.get(vault)
        return row is not None and row.state != "down"

    async def put(self, size: int, follow: bool) -> Name:
        """Put `size` random bytes as a chunk the dashboard tracks (and follows)."""
        name, trace = await self.network().put(os.urandom(size))
        self.model.add_chunk(name, size, trace, follow=follow)
        self.app.sample()
        return name


Act = Callable[[Stage], Awaitable[str]]


@dataclass(frozen=True)
class Scene(Step):
    """A tour step that acts on the network when shown (`act`: what it did, in words)."""

    act: Act | None = None


def _kinds(stage: Stage, chunk: Name) -> str:
    return "; ".join(f"{kind}: " + (" ".join(short(n, 6) for n in stage.holders(chunk, kind))
                                    or "-") for kind in KINDS)


async def put_and_follow(stage: Stage) -> str:
    """Put a 4 KiB chunk, follow its put, wait until every copy has a holder."""
    chunk = stage.chunk = await stage.put(FIRST_CHUNK, follow=True)
    await stage.until(lambda: all(stage.holders(chunk, k) for k in KINDS), 60,
                      "a holder of each of the three copies")
    return f"put chunk {short(chunk)} ({FIRST_CHUNK} bytes): its put is drawn above."


async def show_copies(stage: Stage) -> str:
    """Select the chunk and wait until each copy has all its holders."""
    assert stage.chunk is not None
    chunk = stage.chunk
    stage.model.focus = chunk
    stage.model.refocus()
    table = stage.app.query_one(ChunkTable)
    keys = [str(key.value) for key in table.rows]
    if chunk.hex() in keys:
        table.move_cursor(row=keys.index(chunk.hex()))
    await stage.until(lambda: all(len(stage.holders(chunk, k)) >= HOLDERS_PER_COPY
                                  for k in KINDS), 60, "two holders for each copy")
    return f"chunk {short(chunk)}: {_kinds(stage, chunk)}."


async def fill_until_eviction(stage: Stage) -> str:
    """Put chunks of 3/8 of a vault until a Sacrificial copy is evicted, then delete them."""
    model = stage.model
    size = max(1024, min(MAX_CHUNK_SIZE, model.capacity * 3 // 8))
    before = model.summary.evictions
    fillers: list[Name] = []
    with trio.move_on_after(120):
        while model.summary.evictions == before and len(fillers) < FILLERS:
            with contextlib.suppress(*EXPECTED):  # refused by full vaults: others have room
                fillers.append(await stage.put(size, follow=False))
            stage.app.drain()
    if model.summary.evictions == before:
        await stage.until(lambda: model.summary.evictions > before, 10,
                          f"an eviction after {len(fillers)} puts of {size // 1024} KiB "
                          f"(vaults of {model.capacity // 1024} KiB)")
    stage.evicted = model.summary.evictions - before
    for name in fillers:  # room again for the scenes that follow
        try:
            await stage.network().delete(name)
            model.mark_deleted(name)
        except EXPECTED:
            pass
    return (f"{len(fillers)} chunks of {size // 1024} KiB put, {stage.evicted} Sacrificial "
            f"cop{'y' if stage.evicted == 1 else 'ies'} evicted (the magenta rows); then "
            f"the tour deleted those chunks to make room again.")


async def lie(stage: Stage) -> str:
    """Make a holder of the chunk lie; wait until an integrity check catches it and its rank
    is lower than before."""
    assert stage.chunk is not None
    model = stage.model
    candidates = [v for k in KINDS for v in stage.holders(stage.chunk, k) if stage.up(v)]
    if not candidates:
        raise ScenarioFailed("no live holder of the chunk to make lie")
    liar = stage.liar = candidates[0]
    row = model.vaults.get(liar)
    stage.liar_rank = row.rank if row is not None and row.rank is not None else 1.0
    mark = model.events.rows[-1].seq if model.events.rows else -1
    await stage.network().fault(liar, "lie")

    def rows(kind: str) -> list[EventRow]:
        return [r for r in model.events.rows if r.kind == kind and r.vault == liar
                and r.seq > mark]

    def caught() -> bool:
        now = model.vaults.get(liar)
        return (bool(rows(INTEGRITY)) and now is not None and now.rank is not None
                and now.rank < stage.liar_rank)

    took = await stage.until(caught, 240, f"vault {short(liar)} caught by an integrity check "
                             "and its rank falling")
    rank = model.vaults[liar].rank
    why = "; ".join(dict.fromkeys(r.detail.split(": ", 1)[-1] for r in rows(RANK)))
    return (f"vault {short(liar)} lies: caught by an integrity check after {took:.0f} s, its "
            f"rank fell from {stage.liar_rank:.2f} to {rank:.2f} (why: {why or 'lost data'}). "
            f"Its rows in view 4: integrity, holder removed, rank change.")


async def churn(stage: Stage) -> str:
    """Kill a holder of the chunk (not the liar); wait until its copies have new holders."""
    assert stage.chunk is not None
    chunk = stage.chunk
    candidates = [v for k in KINDS for v in stage.holders(chunk, k)
                  if v != stage.liar and stage.up(v)]
    if not candidates:
        raise ScenarioFailed("no live holder of the chunk to kill")
    victim = stage.victim = candidates[0]
    stage.victim_copies = [(c.name, k) for c in stage.model.chunks.values() if not c.deleted
                           for k in KINDS if victim in c.holders.get(k, [])]
    await stage.network().kill_vault(victim)

    def replicated() -> bool:
        return all(victim not in (held := stage.holders(c, k)) and len(held) >= HOLDERS_PER_COPY
                   for c, k in stage.victim_copies)

    took = await stage.until(replicated, 180, f"new holders for vault {short(victim)}'s copies")
    return (f"killed vault {short(victim)}; its {len(stage.victim_copies)} cop"
            f"{'y' if len(stage.victim_copies) == 1 else 'ies'} of your chunks had "
            f"{HOLDERS_PER_COPY} holders again {took:.0f} s later. Chunk {short(chunk)} now: "
            f"{_kinds(stage, chunk)}.")


SCENES = (
    Scene("vaults", VaultTable, "A small network",
          "Each row is a vault: one process's share of the network, with its own name (a "
          "256-bit number). Every vault plays every [b]persona[/]: MaidNode (a client), "
          "MaidManager (a client's account), DataManager (a chunk's record of who holds it), "
          "PmidManager (a vault's account), PmidNode (the vault's disk). A persona that "
          "manages something is a [b]group[/]: the 4 vaults nearest that thing's name, and "
          "it acts when a [b]quorum[/] (3 of 4) agree. This tour acts on the network: each "
          "step does something, says what it did and where to look. enter goes on when a "
          "step is done."),
    Scene("flows", SpaceTime, "One put, followed across every persona",
          "The tour put a chunk and follows it: a lane per persona, time downwards, an arrow "
          "per message. Read it top down: the MaidNode asks its MaidManagers, which charge "
          "the account and pass it to the chunk's DataManagers; they choose holders and ask "
          "each holder's PmidManagers, which pass the content to the PmidNode that stores "
          "it. xN folds a group's N identical messages. A ◆ is a step inside a group: "
          "[b]accumulated[/] (a member has the same request from a quorum of the group "
          "before it, so no single vault can forge it), [b]sync[/] (members tell each other "
          "what they will do), [b]committed[/] (a quorum agreed: it is done); "
          "[b]stored[/] at the bottom is the PmidNode writing the copy.",
          put_and_follow),
    Scene("chunks", ChunkTable, "Three copies: Primary, Backup, Sacrificial",
          "The chunk's row: each of its three copies (P, B, S) has its own name and lives on "
          "the 2 vaults nearest that name (the XOR view beside it: shared leading bits). "
          "[b]Primary[/] and [b]Backup[/] are the copies the network owes you; "
          "[b]Sacrificial[/] is a spare kept while there is room: gets can be served from it, "
          "and it is the first thing a full vault throws away.", show_copies),
    Scene("evictions", EventTable, "A full vault evicts a Sacrificial copy",
          "The tour puts large chunks until a vault is full. When a Primary copy arrives at "
          "a full vault, the vault [b]evicts[/] Sacrificial copies to make room (magenta "
          "rows: eviction) and tells its PmidManagers; a Backup or Sacrificial copy that "
          "finds no room is a put failure, and the DataManagers pick another holder. "
          "[b]c[/] shows one kind of row at a time.", fill_until_eviction),
    Scene("ranking", RankingView, "A lying vault is caught and sinks",
          "The tour made a holder of your chunk lie (the fault [b]f[/] lie): it misreports "
          "sizes and answers integrity checks wrongly. Every 10 s a copy's DataManager lead "
          "challenges its holders to hash the content with a fresh nonce; a wrong answer is "
          "voted on by the group, and at a quorum the holder loses the copy. Its PmidManagers "
          "count those bytes as lost: [b]rank[/] = stored / (stored + lost); below "
          f"{RANK_FLOOR} its PmidManagers refuse it new copies. The check may take a "
          "minute. (View 2 may still list the liar: the bytes stay on its disk, but the "
          "DataManagers no longer count it as a holder.)", lie),
    Scene("chunks", ChunkTable, "Churn: a vault dies, its copies are re-replicated",
          "The tour killed a holder of your chunk ([b]K[/]). Its close groups notice it is "
          "gone, the DataManagers remove it as a holder and copy the content from a "
          "surviving holder to the next nearest vault: watch the chunk's row change, and "
          "view 4's removed / replicated rows.", churn),
    Scene("vaults", VaultTable, "That is the tour",
          "You saw: a put passing MaidManagers, DataManagers and PmidManagers, each a group "
          "acting on a quorum; three copies P / B / S, the Sacrificial one given up when a "
          "vault is full; a liar caught by integrity checks and ranked down; a dead vault's "
          "copies re-replicated. The network is yours now: [b]p[/] put, [b]K[/] kill, "
          "[b]f[/] fault, [b]?[/] every key, [b]T[/] a tour of the views."),
)
"""The scenes, in order."""


class ScenarioPanel(TourPanel):
    """The scenario tour: a scene's narration and its result in a panel beside the views
    (below them when the terminal is narrower than SIDE_WIDTH)."""

    DEFAULT_CSS = """
    ScenarioPanel.side { dock: right; width: 46; height: 1fr; max-height: 100%; margin-bottom: 1; }
    """
    SIDE_WIDTH = 120

    def __init__(self, home: str, stage: Stage, scenes: tuple[Scene, ...] = SCENES) -> None:
        """A scenario tour from the view `home`, acting on `stage`."""
        super().__init__(home, scenes)
        self.stage = stage
        self.results: dict[int, str] = {}  # finished scenes: what they did
        self.running: int | None = None  # the scene whose action runs
        self._cancel: trio.CancelScope | None = None  # the running scene's

    def on_mount(self) -> None:
        """Beside the views on a wide terminal; then the first scene."""
        self.set_class(self.app.size.width >= self.SIDE_WIDTH, "side")
        super().on_mount()

    def on_resize(self) -> None:
        """Beside the views on a wide terminal, below them on a narrow one."""
        self.set_class(self.app.size.width >= self.SIDE_WIDTH, "side")

    def show_step(self) -> None:
        """The scene's view and narration; its action started if it has not run yet."""
        if self.done:
            return
        super().show_step()
        scene = self.step
        assert isinstance(scene, Scene)
        if (scene.act is not None and self.index not in self.results
                and self.running is None):
            self._start(self.index, scene.act)
        self._narrate()

    def go(self, steps: int) -> None:
        """On to the next scene only once this one's action is done; back at any time."""
        if steps > 0 and self.running is not None:
            self.app.notify("the tour is still at work on this step: wait for ✓",
                            severity="warning")
            return
        if steps > 0 and self.index == 0 and not (self.stage.app.network
                                                  and self.stage.app.network.ready):
            self.app.notify("the network is still starting", severity="warning")
            return
        super().go(steps)

    def leave(self) -> None:
        """End the tour and cancel the scene still running."""
        if self._cancel is not None:
            self._cancel.cancel()
        super().leave()

    def _start(self, index: int, act: Act) -> None:
        self.running = index
        app = self.stage.app
        cancel = self._cancel = trio.CancelScope()

        async def run() -> None:
            with cancel:
                try:
                    result = f"[b green]✓[/] {await act(self.stage)}"
                except (ScenarioFailed, *EXPECTED) as exc:
                    result = f"[b red]✗[/] {exc}"
                self.results[index] = result
            self.running = None
            if self.index == index:
                self._narrate()
            app.post_message(ModelRefreshed())

        app.guest.start_soon(run)

    def _narrate(self) -> None:
        scene = self.step
        if self.index in self.results:
            status = self.results[self.index]
        elif self.running == self.index:
            status = "[b yellow]…[/] at work on the network"
        else:
            status = ""
        # the result first: a small terminal (the panel at most half of it) still shows it
        self.update(f"[b]{scene.title}[/]\n" + (f"{status}\n\n" if status else "") + scene.text)
