"""A worker process: `python -m vaultnet.runtime.workers` runs the vaults its launcher
(`vaultnet.runtime.worker_pool.WorkerPool`) tells it to over its stdin, in a `Testnet` of its
own that joins the launcher's network, streams their events back over its stdout and answers
the commands forwarded to them (the protocol is in `vaultnet.runtime.worker_pool`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import trio

from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet, TestnetError
from vaultnet.runtime.worker_pool import (
    WORKER_BATCH,
    WORKER_BUFFER,
    Pipe,
    process_totals,
    vault_row,
)


async def _run_worker(pipe: Pipe) -> None:
    """Start the configured vaults, then stream events and answer commands until stdin closes."""
    config = await pipe.receive()
    if config is None:
        return
    try:
        net = Testnet(vaults=config["vaults"], data_dir=config["data_dir"],
                      network_key=config["network_key"], host=config["host"],
                      join=config["join"], seed=config["seed"],
                      capacity=config["capacity"])
        events = net.events(WORKER_BUFFER)  # from before the first vault: its VaultUp too
        async with net:
            await pipe.send({"ready": [vault_row(v) for v in net.vaults]})
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_send_events, pipe, events)
                while (request := await pipe.receive()) is not None:
                    nursery.start_soon(_answer, pipe, net, request)
                nursery.cancel_scope.cancel()
    except TestnetError as exc:
        await pipe.send({"error": str(exc)})


async def _send_events(pipe: Pipe, subscription: ev.Subscription) -> None:
    """Forward events in batches; what the pipe cannot take meanwhile is dropped, counted."""
    try:
        while True:
            batch = [e.to_record() for e in await subscription.receive_batch(WORKER_BATCH)]
            await pipe.send({"records": batch, "dropped": subscription.dropped,
                             "now": trio.current_time()})
    finally:
        subscription.close()


async def _answer(pipe: Pipe, net: Testnet, request: dict[str, Any]) -> None:
    """Run one forwarded command on this worker's testnet and send the answer."""
    command, args = request.get("command"), request.get("args", [])
    reply: dict[str, Any] = {"id": request.get("id"), "ok": True}
    try:
        if command == "status":
            reply["result"] = [vault_row(v) for v in net.vaults]
        elif command == "totals":
            reply["result"] = process_totals(net.vaults)
        elif command == "kill":
            name = net.vault(args[0]).name
            await net.kill_vault(name)
            reply["result"] = {"name": name.hex()}
        elif command == "restart":
            reply["result"] = vault_row(await net.restart_vault(args[0]))
        elif command == "fault":
            reply["result"] = {"name": net.fault(args[0], args[1]).name.hex(), "fault": args[1]}
        else:
            raise TestnetError(f"a worker does not run {command!r}")
    except TestnetError as exc:
        reply = {"id": request.get("id"), "ok": False, "error": str(exc)}
    await pipe.send(reply)


def worker_main() -> None:
    """`python -m vaultnet.runtime.workers`: one worker, driven over stdin and stdout."""
    from vaultnet.runtime.allocator import limit_fragmentation
    from vaultnet.runtime.collector import tune_collector

    limit_fragmentation()
    tune_collector()
    send = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
    receive = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    sys.stdout = sys.stderr  # nothing else may write into the frame stream
    trio.run(_run_worker, Pipe(send, receive))


if __name__ == "__main__":
    worker_main()
