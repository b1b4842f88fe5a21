"""Sampling: a reading of the network's internals (vault stores, PmidManager accounts, routing,
version trees, held messages) reduced to a `Sample` and applied to the model."""

from __future__ import annotations

from collections import deque

from tui.model.geometry import xor_blocks
from tui.model.ingest import Ingest
from tui.model.records import Sample, StructuredRow, VaultRow
from tui.model.state import MESSAGES_SAMPLED, RANK_HISTORY, journaled
from vaultnet.control.reading import MESSAGE_KEY_SIZE, NetworkReading, Query
from vaultnet.personas.pmid_manager import rank
from vaultnet.xor import Name


class Sampling(Ingest):
    """Samples in: `observe` = `sample` + `apply`, and the XOR view redrawn from the last."""

    def query(self) -> Query:
        """What a reading must report on besides the vaults: the tracked chunks and trees,
        and the newest MESSAGES_SAMPLED messages that managers may hold."""
        recent = list(self.messages.values())[-MESSAGES_SAMPLED:]
        keys = (m.recipient + m.sender + m.mid for m in recent
                if m.mid is not None and m.state != "refused")
        return Query(tuple(self.chunks), tuple(self.versioned),
                     tuple(key for key in keys if len(key) == MESSAGE_KEY_SIZE))

    def observe(self, reading: NetworkReading, now: float,
                structured: tuple[StructuredRow, ...] = ()) -> None:
        """Show a reading of the network and its structured data records: vault rows,
        holdings of tracked chunks, ranks, rates (`sample`, then `apply`: a recording keeps
        the sample)."""
        self.apply(self.sample(reading, now, structured))

    def sample(self, reading: NetworkReading, now: float,
               structured: tuple[StructuredRow, ...] = ()) -> Sample:
        """A reading and the structured data records (`tui.structured.structured_rows`)
        reduced to what the views show (the rates' baseline moves to `now`). Names the reading
        does not answer for (asked for before they were tracked) are left as they were."""
        counters = {v.name: (v.messages_in, v.messages_out) for v in reading.vaults}
        total_in = sum(v.messages_in for v in reading.vaults)
        accounts = dict(reading.accounts)
        ranks = {node: rank(account) for node, account in accounts.items()}
        span, previous = 0.0, {}
        msgs_per_s = None
        if self._last_sample is not None:
            span = max(now - self._last_sample[0], 1e-6)
            previous = self._last_sample[2]
            msgs_per_s = max(0, total_in - self._last_sample[1]) / span
        self._last_sample = (now, total_in, counters)

        rows = []
        for vault in reading.vaults:
            name = vault.name
            before = previous.get(name, counters[name])
            rows.append(VaultRow(
                name=name, state=",".join(sorted(self.faults.get(name, ()))) or "up",
                stored=vault.stored, capacity=self.capacity, copies=dict(vault.copies),
                rank=ranks.get(name),
                rate_in=(counters[name][0] - before[0]) / span if span else 0.0,
                rate_out=(counters[name][1] - before[1]) / span if span else 0.0,
                peers=vault.peers, close_group=vault.close_group,
                account=dict(accounts.get(name, {})), holds=vault.holds))
        holders = dict(reading.holders)
        trees = dict(reading.trees)
        inboxes = dict(reading.inboxes)
        held_by: list[tuple[bytes, tuple[Name, ...]]] = []
        for message in list(self.messages.values())[-MESSAGES_SAMPLED:]:
            if message.mid is None or message.state == "refused":
                held_by.append((message.trace, ()))
            elif (key := message.recipient + message.sender + message.mid) in inboxes:
                held_by.append((message.trace, inboxes[key]))
        return Sample(tuple(v.name for v in reading.vaults), tuple(rows), tuple(ranks.items()),
                      tuple((name, holders[name]) for name in self.chunks if name in holders),
                      msgs_per_s,
                      tuple((key, trees[key]) for key in self.versioned if key in trees),
                      tuple(held_by), structured)

    @journaled
    def apply(self, sample: Sample) -> None:
        """Show a sample: the vault rows (a vault gone stays, as down), rank history, chunk
        holders, the summary, the XOR view, version trees, structured data records and who
        holds each message."""
        rows = {row.name: row for row in sample.rows}
        for name, old in self.vaults.items():
            if name not in rows:
                rows[name] = VaultRow(name, "down", old.stored, old.capacity, old.copies,
                                      old.rank, 0.0, 0.0, 0, (), old.account, old.holds)
        self.vaults = rows
        if sample.msgs_per_s is not None:
            self.summary.msgs_per_s = sample.msgs_per_s
        for name, value in sample.ranks:
            self.rank_history.setdefault(name, deque(maxlen=RANK_HISTORY)).append(value)
        for name, holders in sample.holders:
            if name in self.chunks:
                self.chunks[name].holders = holders
        self._live = sample.live
        self.summary.vaults_up = len(sample.live)
        self.summary.vaults_down = len(rows) - len(sample.live)
        self.summary.chunks = sum(1 for c in self.chunks.values() if not c.deleted)
        self.summary.lost = sum(1 for c in self.chunks.values() if c.lost)
        self.refocus()
        for key, state in sample.versioned:
            item = self.versioned.get(key)
            if item is not None:
                item.parents = dict(state.parents)
                item.root, item.tips = state.root, state.tips
                item.group, item.strays = state.group, state.strays
                item.sampled = True
        self.structured = sample.structured
        for trace, managers in sample.held_by:
            if trace in self.messages:
                self.messages[trace].held_by = managers

    def refocus(self) -> None:
        """Redraw the XOR view around `focus` from the last sample (no network needed)."""
        self.xor_blocks = (xor_blocks(self.focus, self.chunks, list(self._live))
                           if self.focus else [])
