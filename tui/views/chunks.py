"""View 2, chunks and XOR: the chunks put from the dashboard with who holds each copy, and the
XOR view of the selected chunk or vault; its keys put, get and delete a chunk and focus the
XOR view."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import TabbedContent

from tui.views.base import View, footer_keys
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.vault_table import VaultTable
from tui.widgets.xor_view import XorView
from vaultnet.client.chunk_input import ChunkInputError, parse_size, read_chunk_file
from vaultnet.client.maid import MAX_CHUNK_SIZE

MAX_PUT = MAX_CHUNK_SIZE
NOTICE_CHARS = 200
"""The longest notice about the put prompt's answer: a path pasted by mistake (thousands of
characters) must not fill the screen with one toast."""
UNIQUE = "unique "
"""Typed before the size or path in the put prompt: a Put<Unique> (refused with DataExists if
the chunk is already stored), as `vaultnet put --unique`."""


def clip(text: str, limit: int = NOTICE_CHARS) -> str:
    """`text`, or its start and end around an ellipsis if it is longer than `limit`."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[len(text) - (limit - 1 - half):]}"


class PutInputError(ValueError):
    """The answer to the put prompt names no chunk: a bad size, or a file that cannot be one."""


def data_for(answer: str) -> bytes:
    """Random bytes of a size, or a file's content (a regular file, read at most up to the
    chunk limit); PutInputError says what is wrong. Runs in a worker thread."""
    if not answer[:1].isdigit():
        try:
            return read_chunk_file(Path(answer).expanduser())
        except ChunkInputError as exc:
            raise PutInputError(str(exc)) from None
    try:
        size = parse_size(answer)
    except ChunkInputError as exc:
        raise PutInputError(str(exc)) from None
    if not 0 < size <= MAX_PUT:
        raise PutInputError(f"a chunk must be 1 byte to {MAX_PUT // 1024} KiB")
    return os.urandom(size)


class ChunksView(View):
    """The chunks and the XOR view, and the actions on chunks. The table gets 7/12 of the
    width: its six columns need about 74 columns, and at half of 140 the state (deleted) was
    cut off; the XOR view's rows need about 45."""

    DEFAULT_CSS = """
    ChunksView > Horizontal > ChunkTable { width: 7fr; }
    ChunksView > Horizontal > XorView { width: 5fr; }
    """
    MAIN = ChunkTable
    BINDINGS = footer_keys((("p", "put", "put"), ("g", "get", "get"), ("D", "delete", "delete"),
                            ("t", "follow", "follow"), ("x", "xor_focus", "XOR")))

    def compose(self) -> ComposeResult:
        """The chunk table beside the XOR view."""
        with Horizontal():
            yield ChunkTable()
            yield XorView()

    def show(self) -> None:
        """The chunk table and the XOR view around the focus."""
        self.query_one(ChunkTable).show(self.model)
        self.query_one(XorView).show(self.model)

    def selected_chunk(self) -> bytes | None:
        """The selected chunk's name, or None (and the user is told how to select one)."""
        name = self.query_one(ChunkTable).selected_name()
        if name is None:
            self.notify("no chunk selected: put one with p, then choose it in tab 2",
                        severity="warning")
        return name

    def followable(self) -> bytes | None:
        """The put of the selected chunk, or None (and the user is told why)."""
        if (name := self.selected_chunk()) is None:
            return None
        return self.model.chunks[name].trace

    def action_put(self) -> None:
        """Ask for a size or a file, then put it as a chunk."""
        self.ask("put: a size in bytes (4096, 64K, 1M) or a file path; 'unique ' before it: "
                 "refused if already stored", "4096", self._put)

    def _put(self, answer: str | None) -> None:
        if not answer:
            return
        answer = answer.strip()
        unique = answer.startswith(UNIQUE)
        self.run_worker(self._read_and_put(answer.removeprefix(UNIQUE).strip(), unique),
                        group="put")

    async def _read_and_put(self, answer: str, unique: bool) -> None:
        """Make the chunk in a thread (a file is read there, bounded: the UI loop and the
        network on it never wait for a disk or a device), then put it on the network."""
        try:
            data = await asyncio.to_thread(data_for, answer)
        except PutInputError as exc:  # it quotes what was typed: plain text, clipped
            self.notify(clip(str(exc)), severity="error", markup=False)
            return
        if (network := self.dashboard.network) is None:
            return
        model = self.model

        async def put() -> str:
            name, trace = await network.put(data, unique)
            model.add_chunk(name, len(data), trace)
            kind = "unique chunk" if unique else "chunk"
            return f"stored {kind} {name.hex()[:16]} ({len(data)} bytes)"

        self.dashboard.start_operation("put", put)

    def action_get(self) -> None:
        """Get the selected chunk back and check it."""
        if (name := self.selected_chunk()) is None or self.dashboard.network is None:
            return
        network = self.dashboard.network

        async def get() -> str:
            size = await network.get(name)
            return f"got chunk {name.hex()[:16]}: {size} bytes, content matches its name"

        self.dashboard.start_operation("get", get)

    def action_delete(self) -> None:
        """Delete the selected chunk from the network (asks y / n)."""
        if (name := self.selected_chunk()) is None:
            return
        self.confirm(f"delete chunk {name.hex()[:16]} from the network?",
                     lambda: self._delete(name))

    def _delete(self, name: bytes) -> None:
        model = self.model

        async def delete() -> str:
            assert self.dashboard.network is not None
            await self.dashboard.network.delete(name)
            model.mark_deleted(name)
            return f"deleted chunk {name.hex()[:16]}"

        self.dashboard.start_operation("delete", delete)

    def action_xor_focus(self) -> None:
        """Center the XOR view on the selected chunk (in this view) or vault, and show it."""
        shown = self.app.query_one(TabbedContent).active == self.id
        table = self.query_one(ChunkTable) if shown else self.app.query_one(VaultTable)
        name = table.selected_name()
        if name is None:
            self.notify("select a vault or a chunk first", severity="warning")
            return
        dashboard = self.dashboard
        dashboard.model.focus = name
        dashboard.sample()
        dashboard.model.refocus()
        dashboard.action_tab("chunks")
        dashboard.render_shown()
