"""The server side of `vaultnet ctl` and of an attached dashboard: the dispatch table from each
command to what it does on one testnet, and the forwarding of a vault's commands to the worker
process it runs in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from vaultnet.client.maid import ClientError
from vaultnet.control.auth import authenticated
from vaultnet.control.commands import Checked, checked
from vaultnet.control.operations import Operator, UnknownIdentity
from vaultnet.control.protocol import RequestError, refusal_name
from vaultnet.control.reading import read_network
from vaultnet.identity import IdentityError
from vaultnet.runtime.testnet import Testnet, TestnetError
from vaultnet.runtime.worker_pool import vault_row
from vaultnet.storage.store import StoreError

COMMAND_FAILURES = (TestnetError, IdentityError, StoreError, OSError, ClientError,
                    UnknownIdentity)
"""What a command may fail with because of the testnet's state (no such vault, a vault's
files unusable): answered as a refusal, the testnet keeps running."""


class Controller:
    """Carries out control commands on one testnet (the server side of `vaultnet ctl`): with
    worker processes (`Testnet(processes=)`), `status` covers their vaults too and `kill`,
    `restart` and `fault` of a vault that ran in a worker (a name or prefix matching exactly
    one there) go to that worker."""

    def __init__(self, net: Testnet, token: str) -> None:
        self.net = net
        self._token = token.encode()
        self._commands: dict[str, Callable[[Checked], Awaitable[Any]]] = {
            "status": self._status, "add": self._add, "kill": self._kill,
            "restart": self._restart, "fault": self._fault, "session": self._session,
            "read": self._read, "put": self._put, "put_unique": self._put_unique,
            "get": self._get, "delete": self._delete,
            "put_version": self._put_version, "delete_branch": self._delete_branch,
            "send": self._send, "toggle": self._toggle,
            "put_structured": self._put_structured,
            "update_structured": self._update_structured,
            "delete_structured": self._delete_structured,
        }
        self.nursery: trio.Nursery | None = None
        """Where the operator's background tasks run (`serve` sets it)."""
        self._operator: Operator | None = None
        self._opening = trio.Lock()

    def check(self, request: object) -> Checked:
        """The command and arguments of a well-formed request carrying the right token;
        RequestError otherwise. The token is checked before anything about the command."""
        return checked(*authenticated(request, self._token))

    async def run(self, request: Checked) -> dict[str, Any]:
        """The reply to a checked command: its result, or the testnet's refusal (naming the
        client's failure, if it was one)."""
        try:
            return {"ok": True, "result": await self._commands[request.command](request)}
        except COMMAND_FAILURES as exc:
            refusal = refusal_name(exc) if isinstance(exc, ClientError) else None
            return RequestError("refused", str(exc) or type(exc).__name__, refusal).reply()

    async def _status(self, request: Checked) -> Any:
        rows = await self.net.vault_rows()
        return {**self.net.summary(), "vaults": len(rows),
                "connections": sum(row["connections"] for row in rows),
                "messages": sum(row["messages"] for row in rows), "vault_list": rows}

    async def _add(self, request: Checked) -> Any:
        return vault_row(await self.net.add_vault())

    async def _forward(self, request: Checked) -> tuple[bool, Any]:
        """(True, the answer) if the vault `request` names ran in a worker, else (False, None)."""
        workers = self.net.workers
        worker = workers.owner(request.args[0])
        if worker is None:
            return False, None
        return True, await workers.request(worker, request.command, list(request.args))

    async def _kill(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        name = self.net.vault(request.args[0]).name
        await self.net.kill_vault(name)
        return {"name": name.hex()}

    async def _restart(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        return vault_row(await self.net.restart_vault(request.args[0]))

    async def _fault(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        vault = self.net.fault(request.args[0], request.args[1])
        return {"name": vault.name.hex(), "fault": request.args[1]}

    # -- the attached dashboard's commands ----------------------------------------------------

    async def operator(self) -> Operator:
        """The dashboard client and MPIDs of this testnet, connected on first use."""
        async with self._opening:
            if self._operator is None:
                if self.nursery is None:
                    raise TestnetError("the control port is not serving")
                operator = Operator(self.net)
                await operator.open(self.nursery)
                self._operator = operator
        return self._operator

    async def _session(self, request: Checked) -> Any:
        operator = await self.operator()
        return {"transport": self.net.transport, "group_size": self.net.params.group_size,
                "capacity": self.net.capacity, "vaults": len(self.net.vaults),
                "mpids": [m.to_record() for m in operator.states().values()],
                "owner": operator.owner_key()}

    async def _read(self, request: Checked) -> Any:
        operator = self._operator
        return {"reading": read_network(self.net, request.args[0]).to_record(),
                "mpids": [] if operator is None
                else [m.to_record() for m in operator.states().values()],
                "received": [] if operator is None
                else [[r.recipient, r.sender, r.mid] for r in operator.take_received()]}

    async def _put(self, request: Checked) -> Any:
        return {"name": await (await self.operator()).put(request.content, request.args[0])}

    async def _put_unique(self, request: Checked) -> Any:
        return {"name": await (await self.operator()).put(request.content, request.args[0],
                                                          unique=True)}

    async def _get(self, request: Checked) -> Any:
        return {"size": len(await (await self.operator()).get(request.args[0]))}

    async def _delete(self, request: Checked) -> Any:
        await (await self.operator()).delete(request.args[0])
        return {}

    async def _put_version(self, request: Checked) -> Any:
        key, parent, trace = request.args
        version, chunk_trace = await (await self.operator()).put_version(
            key, parent, request.content, trace)
        return {"version": version.to_record(), "chunk_trace": chunk_trace}

    async def _delete_branch(self, request: Checked) -> Any:
        removed = await (await self.operator()).delete_branch(*request.args)
        return {"removed": [v.to_record() for v in removed]}

    async def _send(self, request: Checked) -> Any:
        sender, recipient, body, trace = request.args
        await (await self.operator()).send(sender, recipient, body, trace)
        return {}

    async def _toggle(self, request: Checked) -> Any:
        return {"online": await (await self.operator()).toggle(*request.args)}

    async def _put_structured(self, request: Checked) -> Any:
        name, trace = request.args
        record = await (await self.operator()).put_structured(name, request.content, trace)
        return {"version": record.version}

    async def _update_structured(self, request: Checked) -> Any:
        name, trace = request.args
        record = await (await self.operator()).update_structured(name, request.content, trace)
        return {"version": record.version}

    async def _delete_structured(self, request: Checked) -> Any:
        record = await (await self.operator()).delete_structured(*request.args)
        return {"version": record.version}
