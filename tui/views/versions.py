"""View 6, versions and messages: version trees (left: the trees, right: the selected item's
VersionManager group), the structured data records, and messages (the dashboard's MPIDs, then
every message with its state); its keys make a tree, put a version, delete a branch, put,
update and delete a structured data record, send a message and take an MPID offline or bring
it back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.containers import Horizontal

from tui.model import StructuredRow, VersionedItem
from tui.views.base import EXPECTED, View, footer_keys
from tui.widgets.identity_bar import IdentityBar
from tui.widgets.message_table import MessageTable
from tui.widgets.structured_table import StructuredTable
from tui.widgets.version_group import VersionGroup
from tui.widgets.version_table import VersionTable
from vaultnet.client.maid import MAX_CHUNK_SIZE as MAX_PUT
from vaultnet.control.handle import NetworkHandle
from vaultnet.control.operations import MPIDS, pick
from vaultnet.personas.mpid_manager import MAX_BODY
from vaultnet.personas.version_tree import VersionName
from vaultnet.xor import name_of, short

KEYS = (("n", "version_new", "tree"), ("v", "version_put", "vers"),
        ("b", "version_delete", "prune"), ("s", "structured_put", "record"),
        ("u", "structured_update", "upd"), ("X", "structured_delete", "del"),
        ("m", "message", "msg"), ("o", "online", "on/off"), ("t", "follow", "follow"))
"""The footer's labels are short to fit 80 columns: tree, version, delete a branch (prune);
a record: put, update, delete; message, MPID on/off, follow (the help says each in full)."""


class VersionsView(View):
    """Version trees and messages, and the actions on them."""

    DEFAULT_CSS = """
    VersionsView > Horizontal { height: 1fr; }
    VersionsView > Horizontal > VersionTable { width: 2fr; }
    VersionsView > Horizontal > VersionGroup { width: 1fr; max-width: 48; }
    VersionsView > MessageTable { height: 1fr; }
    """
    MAIN = VersionTable
    BINDINGS = footer_keys(KEYS)

    def __init__(self, title: str, *, id: str | None = None) -> None:
        """The pane titled `title`."""
        super().__init__(title, id=id)
        self.counter = 0  # makes the default texts of versions and messages differ

    def compose(self) -> ComposeResult:
        """Trees and group side by side, then the MPIDs and the messages."""
        with Horizontal():
            yield VersionTable()
            yield VersionGroup()
        yield StructuredTable()
        yield IdentityBar()
        yield MessageTable()

    def show(self) -> None:
        """Version trees, the selected tree, the structured data records, the MPIDs and their
        messages."""
        versions = self.query_one(VersionTable)
        versions.show(self.model)
        selection = versions.selected()
        self.query_one(VersionGroup).show(self.model.versioned.get(selection[0])
                                          if selection else None)
        self.query_one(StructuredTable).show(self.model)
        self.query_one(IdentityBar).show(self.model)
        self.query_one(MessageTable).show(self.model)

    def followable(self) -> bytes | None:
        """The selected message's delivery (else its send; pressed again: its send) if the
        message table has the keyboard, else the selected tree's latest operation; None
        (and the user is told why) if there is none."""
        if isinstance(self.app.focused, MessageTable):
            row = self.app.focused.selected_name()
            if row is None or row not in self.model.messages:
                self.notify("no message selected: send one with m", severity="warning")
                return None
            message = self.model.messages[row]
            latest = message.delivery_trace or message.trace
            if self.model.followed_trace == latest:  # pressed again: the other one
                return message.trace if latest != message.trace else latest
            return latest
        selection = self.query_one(VersionTable).selected()
        item = self.model.versioned.get(selection[0]) if selection else None
        if item is None or item.trace is None:
            self.notify("no version tree operation to follow: select a tree (tab 6), or "
                        "the message table (tab key) for a message", severity="warning")
            return None
        return item.trace

    def action_version_new(self) -> None:
        """Ask for a new tree's name and first version, and put it."""
        self.counter += 1
        self.ask("new version tree: a NAME for it (its key is the name's hash), then the text "
                 "of its first version", f"notes-{self.counter} first draft", self._version_new)

    def _version_new(self, answer: str | None) -> None:
        if (named := self._first_word_and_rest(answer, "a version tree needs a name")) is None:
            return
        label, text = named
        self._put_version(name_of(label.encode()), label, None, text or f"{label} v0")

    def _first_word_and_rest(self, answer: str | None, needs: str) -> tuple[str, str] | None:
        """A prompt's answer as its first word (a name or key) and the rest; None if it was
        cancelled, or, with `needs` shown as an error, if it was empty."""
        if answer is None:
            return None
        word, _, rest = answer.strip().partition(" ")
        if not word:
            self.notify(needs, severity="error")
            return None
        return word, rest

    def action_version_put(self) -> None:
        """Ask for the text of a version under the selected one, and put it."""
        if (selection := self._selected_version()) is None:
            return
        item, version = selection
        parent = version or item.newest_tip()
        where = (f"under v{parent.index} {short(parent.id)}"
                 f"{' (a fork: it has a child already)' if item.children(parent) else ''}"
                 if parent else "as the root of the empty tree")
        index = 0 if parent is None else parent.index + 1
        self.counter += 1
        self.ask(f"put a version of {item.label} {where}: its text",
                 f"{item.label} v{index} draft {self.counter}",
                 lambda text: self._version_text(item.key, item.label, parent, text))

    def _version_text(self, key: bytes, label: str, parent: VersionName | None,
                      text: str | None) -> None:
        if text is None:
            return
        if not text.strip():
            self.notify("a version needs some text", severity="error")
            return
        self._put_version(key, label, parent, text)

    def _put_version(self, key: bytes, label: str, parent: VersionName | None,
                     text: str) -> None:
        data = text.encode()
        if len(data) > MAX_PUT:
            self.notify(f"a version's text must be at most {MAX_PUT // 1024} KiB",
                        severity="error")
            return
        item = self.model.versioned.get(key)
        index = 0 if parent is None else parent.index + 1
        if item is not None and VersionName(index, name_of(data)) in item.parents:
            self.notify(f"v{index} with this text is in {label} already: change the text",
                        severity="error")
            return
        if (network := self.live_network()) is None:
            return
        model = self.model
        trace = network.new_trace()
        if item is not None:
            model.track_versioned(key, trace=trace)
        model.followed_trace = trace

        async def put() -> str:
            version, chunk_trace = await network.put_version(key, parent, data, trace)
            model.track_versioned(key, label, trace)  # a new tree: once it exists
            model.add_chunk(version.id, len(data), chunk_trace, follow=False)
            self.dashboard.sample()
            if not self.dashboard.paused:
                self.show()
                self.query_one(VersionTable).select(key, version)  # v puts its child next
            return f"{label}: put v{version.index} {short(version.id)}"

        self.dashboard.start_operation("put version", put)

    def action_version_delete(self) -> None:
        """Delete the branch of the selected tip, back to its fork."""
        if (selection := self._selected_version()) is None:
            return
        item, tip = selection
        if tip is None or tip not in item.tips:
            self.notify("select a tip (a version without children) to delete its branch",
                        severity="warning")
            return
        assert self.dashboard.network is not None
        network, model = self.dashboard.network, self.model
        trace = network.new_trace()
        model.track_versioned(item.key, trace=trace)
        model.followed_trace = trace

        async def delete() -> str:
            removed = await network.delete_branch(item.key, tip, trace)
            for version in removed:
                model.mark_deleted(version.id)
            self.dashboard.sample()
            gone = f"{len(removed)} version{'' if len(removed) == 1 else 's'}"
            return f"{item.label}: deleted the branch of v{tip.index} ({gone} removed)"

        self.dashboard.start_operation("delete branch", delete)

    def _selected_version(self) -> tuple[VersionedItem, VersionName | None] | None:
        if self.live_network() is None:
            return None
        selection = self.query_one(VersionTable).selected()
        item = self.model.versioned.get(selection[0]) if selection else None
        if selection is None or item is None:
            self.notify("no version tree selected: create one with n, then choose a version "
                        "in tab 6", severity="warning")
            return None
        return item, selection[1]

    # -- structured data records (`tui.structured`) -------------------------------------------

    def action_structured_put(self) -> None:
        """Ask for a record's KEY and data, and put it (owned by the dashboard's client)."""
        if self.live_network() is None:
            return
        self.counter += 1
        self.ask("put a structured data record: a KEY (its name is the key's hash), then its "
                 "data", f"profile-{self.counter} status: here", self._structured_put)

    def _structured_put(self, answer: str | None) -> None:
        named = self._first_word_and_rest(answer, "a structured data record needs a key")
        if named is None:
            return
        key, text = named
        name = name_of(key.encode())
        self._structured_operation(
            "put record", lambda network, trace: network.put_structured(
                name, text.encode(), trace),
            lambda version: f"record {key} ({short(name)}): put v{version}")

    def action_structured_update(self) -> None:
        """Ask for the selected record's next data, and update it to its next version."""
        if (row := self._selected_record()) is None:
            return
        self.counter += 1
        self.ask(f"update record {short(row.name)} (v{row.version}) to v{row.version + 1}: its "
                 f"data", f"status: update {self.counter}",
                 lambda text: self._structured_update(row, text))

    def _structured_update(self, row: StructuredRow, text: str | None) -> None:
        if text is None:
            return
        self._structured_operation(
            "update record", lambda network, trace: network.update_structured(
                row.name, text.encode(), trace),
            lambda version: f"record {short(row.name)}: updated to v{version}")

    def action_structured_delete(self) -> None:
        """Delete the selected record, once confirmed."""
        if (row := self._selected_record()) is None:
            return
        self.confirm(f"delete structured data record {short(row.name)}?",
                     lambda: self._structured_operation(
                         "delete record", lambda network, trace: network.delete_structured(
                             row.name, trace),
                         lambda version: f"record {short(row.name)}: deleted at "
                                         f"v{version}"))

    def _structured_operation(
            self, what: str,
            operation: Callable[[NetworkHandle, bytes], Awaitable[int]],
            done: Callable[[int], str]) -> None:
        """Run `operation` (network, trace) as `what`, followed; `done` says its result from
        the record's version."""
        if (network := self.live_network()) is None:
            return
        trace = network.new_trace()
        self.model.followed_trace = trace

        async def run() -> str:
            version = await operation(network, trace)
            self.dashboard.sample()
            if not self.dashboard.paused:
                self.show()
            return done(version)

        self.dashboard.start_operation(what, run)

    def _selected_record(self) -> StructuredRow | None:
        if self.live_network() is None:
            return None
        name = self.query_one(StructuredTable).selected_name()
        row = next((r for r in self.model.structured if r.name == name), None)
        if row is None:
            self.notify("no structured data record selected: put one with s, then choose it "
                        "in tab 6", severity="warning")
        return row

    # -- messages between the dashboard's MPIDs ---------------------------------------------

    def action_message(self) -> None:
        """Ask for FROM TO TEXT, and send the message."""
        self.counter += 1
        names = " or ".join(MPIDS)
        self.ask(f"send a message: FROM TO TEXT (FROM and TO: {names})",
                 f"alice bob hello bob ({self.counter})", self._message)

    def _message(self, answer: str | None) -> None:
        if answer is None:
            return
        words = answer.split(maxsplit=2)
        if (network := self.live_network()) is None:
            return
        model = self.model
        try:
            if len(words) < 3:
                raise ValueError("say who sends, to whom and what: alice bob hello")
            states = network.mpids()
            sender, recipient, text = pick(states, words[0]), pick(states, words[1]), words[2]
            if len(text.encode()) > MAX_BODY:
                raise ValueError(f"a message is at most {MAX_BODY // 1024} KiB")
            if not sender.online:
                hint = "wait a moment" if sender.changing else f"o brings {sender.label} back"
                raise ValueError(f"{sender.label} is {sender.state}: a sender must be online "
                                 f"({hint})")
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        trace = network.new_trace()
        model.add_message(trace, sender.name, recipient.name, text)
        model.followed_trace = trace
        if not self.dashboard.paused:
            self.dashboard.render_shown()

        async def send() -> str:
            try:
                await network.send(sender.label, recipient.label, text.encode(), trace)
            except EXPECTED as exc:
                model.message_failed(trace, str(exc))
                raise
            held = "" if recipient.online else f" (held: {recipient.label} is offline)"
            return f"{sender.label} → {recipient.label}: sent{held}"

        self.dashboard.start_operation("send", send)

    def action_online(self) -> None:
        """Ask which MPID to take offline or bring back online, and do it."""
        if (network := self.live_network()) is None:
            return
        states = ", ".join(f"{m.label} is {m.state}" for m in network.mpids().values())
        self.ask(f"take offline / bring online which MPID? ({states})", MPIDS[-1],
                 self._online)

    def _online(self, answer: str | None) -> None:
        if not answer or self.dashboard.network is None:
            return
        network = self.dashboard.network
        try:
            mpid = pick(network.mpids(), answer)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        trace = network.new_trace()
        if not mpid.online:
            self.model.followed_trace = trace  # coming back: the managers push what they held

        async def toggle() -> str:
            if await network.toggle(mpid.label, trace):
                return f"{mpid.label} is online: its MpidManagers push what they held"
            return f"{mpid.label} is offline: messages to {mpid.label} are held"

        self.dashboard.start_operation("online / offline", toggle)

