"""The launcher's side of worker processes: a launcher runs part of a testnet's vaults in
subprocesses (`vaultnet.runtime.workers`), each with its own trio loop and its own `Testnet`
that joins the launcher's network over TCP like any vaults; `WorkerPool` starts them, re-emits
their events on the launcher's bus and forwards commands for their vaults.

A worker talks to its launcher over its stdin and stdout only, in length-prefixed msgpack
frames (`vaultnet.wire`): first the launcher's configuration (the network key travels here,
never on a command line), then the worker's `{"ready": [rows]}` or `{"error": TEXT}`; after that
the worker streams `{"records": [...], "dropped": TOTAL}` (its events, from a subscription of
`WORKER_BUFFER`: a vault never waits for the pipe, events past the buffer are dropped and
counted) and answers `{"id", "command", "args"}` requests with `{"id", "ok", "result" | "error"}`.
The worker stops when its stdin closes (the launcher went away); it runs in a session of its
own, so a Ctrl-C meant for the launcher reaches it only that way.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from vaultnet import wire
from vaultnet.runtime import events as ev
from vaultnet.runtime.errors import TestnetError
from vaultnet.runtime.vault import Vault
from vaultnet.xor import closest

WORKER_BUFFER = 10_000
"""Events a worker holds for its launcher while the pipe is busy; newer ones are dropped and
counted (the launcher reports the total)."""
WORKER_BATCH = 500
"""Events in one frame to the launcher (about 150 KiB)."""
WORKER_START_TIMEOUT = 300.0
"""Seconds a worker has to start its vaults and join (hundreds of vaults join one by one)."""
WORKER_ANSWER_TIMEOUT = 60.0
"""Seconds a forwarded command may take (a restart waits for its vault to join)."""
WORKER_STOP_TIMEOUT = 30.0
"""Seconds a worker has to stop its vaults after its stdin closed, before it is killed."""
READ_SIZE = 256 * 1024
"""Bytes read from a pipe at once."""
PIPE_DESCRIPTORS = 2
"""Descriptors a launcher holds per worker (its stdin and stdout pipes)."""


class WorkerError(TestnetError):
    """A worker process failed to start, died, or refused a forwarded command."""


def vault_row(vault: Vault) -> dict[str, Any]:
    """One vault as `ctl status` shows it: name, address, peers, copies, and its own proximity
    set (the same row whichever process the vault runs in)."""
    return {"name": vault.name.hex(), "address": vault.address, "peers": len(vault.routing),
            "copies": len(vault.stored()), "silent": vault.silent,
            "connections": vault.connections(), "messages": vault.messages_in,
            "proximity": [peer.hex() for peer in vault.routing.proximity()]}


def wrong_proximity(rows: list[dict[str, Any]], proximity_size: int) -> list[str]:
    """The vaults (hex prefixes) whose own proximity set, as their `vault_row` shows it, is not
    the true one over every row's vault: whether a testnet spread over processes (or hosts)
    has converged, which no one process can tell from its own vaults."""
    names = [bytes.fromhex(row["name"]) for row in rows]
    return [row["name"][:16] for row, name in zip(rows, names, strict=True)
            if [bytes.fromhex(p) for p in row["proximity"]]
            != closest(name, [n for n in names if n != name], proximity_size)]


def process_totals(vaults: Iterable[Vault]) -> dict[str, float]:
    """Messages and frames `vaults` handled and this process's CPU seconds, so far: a bench's
    cost per message must count every process, and only each process can read its own."""
    counted = list(vaults)
    return {"messages": sum(v.messages_in for v in counted),
            "frames": sum(v.frames_in for v in counted), "cpu": time.process_time()}


def shares(vaults: int, processes: int) -> list[int]:
    """How many vaults each of `processes` runs (the launcher's share first, the largest)."""
    base, extra = divmod(vaults, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


class Pipe:
    """Frames over a pair of byte streams (a worker's stdin/stdout, seen from either side)."""

    def __init__(self, send: trio.abc.SendStream, receive: trio.abc.ReceiveStream) -> None:
        self._send = send
        self._receive = receive
        self._decoder = wire.FrameDecoder()
        self._lock = trio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        """Write one frame (frames from several tasks never interleave)."""
        async with self._lock:
            await self._send.send_all(wire.encode_frame(frame))

    async def receive(self) -> dict[str, Any] | None:
        """The next frame, or None once the other side closed the pipe."""
        while True:
            frame = self._decoder.next_frame()
            if frame is not None:
                return frame
            try:
                data = await self._receive.receive_some(READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not data:
                return None
            self._decoder.feed(data)


# -- the launcher side --------------------------------------------------------------------------


@dataclass
class Worker:
    """One worker process as its launcher sees it: its pipe, the vaults it ever ran, and the
    answers it owes."""

    process: trio.Process
    pipe: Pipe
    names: set[str] = field(default_factory=set)
    """Hex names of the vaults it ever ran (learnt from its rows and its VaultUp events)."""
    live: set[bytes] = field(default_factory=set)
    """Names of its vaults running now (by its VaultUp and VaultDown events)."""
    dropped: int = 0
    """Events it dropped because the pipe to us was busy (its latest count)."""
    waiting: dict[int, trio.MemorySendChannel[dict[str, Any]]] = field(default_factory=dict)
    """Requests sent and not answered yet, by id: at most the control port's running commands."""


class WorkerPool:
    """The launcher's workers: starts them, re-emits their events on its bus, forwards
    commands to the one running a vault."""

    def __init__(self, bus: ev.EventBus) -> None:
        self.bus = bus
        self.workers: list[Worker] = []
        self._ids = 0

    @property
    def dropped(self) -> int:
        """Events all workers dropped so far (the pipe to the launcher was busy)."""
        return sum(w.dropped for w in self.workers)

    @property
    def live(self) -> int:
        """Vaults running in workers now."""
        return sum(len(w.live) for w in self.workers)

    async def start(self, nursery: trio.Nursery, counts: Sequence[int], config: dict[str, Any],
                    data_dir: Path | None) -> None:
        """Start one worker per count, each joining per `config`; WorkerError if one fails."""
        async with trio.open_nursery() as starting:
            for index, count in enumerate(counts, start=1):
                directory = None if data_dir is None else str(data_dir / f"worker-{index}")
                seed = None if config["seed"] is None else config["seed"] + index
                starting.start_soon(self._start_one, nursery, {
                    **config, "vaults": count, "data_dir": directory, "seed": seed})

    async def _start_one(self, nursery: trio.Nursery, config: dict[str, Any]) -> None:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "vaultnet.runtime.workers"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, start_new_session=True)
        assert process.stdin is not None and process.stdout is not None
        worker = Worker(process, Pipe(process.stdin, process.stdout))
        nursery.start_soon(self._supervise, worker)
        await worker.pipe.send(config)
        with trio.move_on_after(WORKER_START_TIMEOUT):
            first = await worker.pipe.receive()
            if first is not None and "ready" in first:
                worker.names.update(row["name"] for row in first["ready"])
                worker.live.update(bytes.fromhex(row["name"]) for row in first["ready"])
                self.workers.append(worker)
                nursery.start_soon(self._read, worker)
                return
            raise WorkerError(f"a worker could not start its vaults: "
                              f"{(first or {}).get('error', 'it exited')}")
        raise WorkerError(f"a worker did not start its vaults within {WORKER_START_TIMEOUT:g}s")

    async def _supervise(self, worker: Worker) -> None:
        """Close the worker's stdin when the launcher stops, then reap it (killed if slow)."""
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                assert worker.process.stdin is not None
                await worker.process.stdin.aclose()
                with trio.move_on_after(WORKER_STOP_TIMEOUT) as slow:
                    await worker.process.wait()
                if slow.cancelled_caught:
                    worker.process.kill()
                    await worker.process.wait()

    async def _read(self, worker: Worker) -> None:
        """Emit the worker's events on our bus and hand answers to their requests."""
        while (frame := await worker.pipe.receive()) is not None:
            if "records" in frame:
                worker.dropped = frame["dropped"]
                # Each trio clock has its own origin: move the worker's times onto ours.
                offset = trio.current_time() - frame["now"]
                for record in frame["records"]:
                    event = ev.from_record({**record, "time": record["time"] + offset})
                    if isinstance(event, ev.VaultUp):
                        worker.names.add(event.vault.hex())
                        worker.live.add(event.vault)
                    elif isinstance(event, ev.VaultDown):
                        worker.live.discard(event.vault)
                    self.bus.emit(event)
            elif (channel := worker.waiting.pop(frame.get("id", -1), None)) is not None:
                channel.send_nowait(frame)
        for channel in worker.waiting.values():
            channel.close()

    def owner(self, name: str) -> Worker | None:
        """The worker that ever ran the one vault `name` (a hex prefix) names, if any."""
        found = [w for w in self.workers if any(n.startswith(name.lower()) for n in w.names)]
        return found[0] if len(found) == 1 else None

    def matches(self, name: str) -> int:
        """How many vaults that ever ran in a worker `name` (a hex prefix) names."""
        return sum(n.startswith(name.lower()) for w in self.workers for n in w.names)

    async def request(self, worker: Worker, command: str, args: list[Any]) -> Any:
        """Send `command` to `worker` and return its result; WorkerError if it refused, died
        or took longer than WORKER_ANSWER_TIMEOUT."""
        self._ids += 1
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        worker.waiting[self._ids] = send
        try:
            await worker.pipe.send({"id": self._ids, "command": command, "args": args})
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            worker.waiting.pop(self._ids, None)
            raise WorkerError("the worker running that vault has gone") from None
        with trio.move_on_after(WORKER_ANSWER_TIMEOUT):
            try:
                reply = await receive.receive()
            except trio.EndOfChannel:
                raise WorkerError("the worker running that vault has gone") from None
            if not reply.get("ok"):
                raise WorkerError(str(reply.get("error")))
            return reply.get("result")
        worker.waiting.pop(self._ids, None)
        raise WorkerError(f"the worker did not answer {command} within "
                          f"{WORKER_ANSWER_TIMEOUT:g}s")

    async def on_vault(self, command: str, name: str, *args: str) -> Any:
        """Run `kill`, `restart` or `fault` (with its kind) on the worker vault `name` (a hex
        prefix naming exactly one that ever ran in a worker); its answer: `{"name"}` for a
        kill, the restarted vault's row, `{"name", "fault"}`. WorkerError if no worker ran it."""
        worker = self.owner(name)
        if worker is None:
            raise WorkerError(f"no single vault that ran in a worker matches {name!r}")
        return await self.request(worker, command, [name, *args])

    async def rows(self) -> list[dict[str, Any]]:
        """Every worker's vault rows (`vault_row`), asked of each worker."""
        rows: list[dict[str, Any]] = []
        for worker in self.workers:
            rows.extend(await self.request(worker, "status", []))
        return rows

    async def totals(self) -> dict[str, float]:
        """`process_totals` summed over every worker (zeros without workers), asked of each."""
        summed = {"messages": 0.0, "frames": 0.0, "cpu": 0.0}
        for worker in self.workers:
            answer = await self.request(worker, "totals", [])
            summed = {key: summed[key] + answer[key] for key in summed}
        return summed
