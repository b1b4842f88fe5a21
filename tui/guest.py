"""Trio in guest mode on Textual's asyncio loop (the dashboard and the network share one thread).

Both run on one thread, so Textual handlers start trio tasks with plain `start_soon` and trio
tasks call widget methods directly. The App owns the guest: it starts it on load and cancels and
awaits it on unmount, so trio has always finished before the asyncio loop stops (otherwise a
later `trio.run` in the same process fails with "run() inside run()").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import trio


class TrioGuest:
    """One trio run hosted by the running asyncio loop, with one nursery to spawn into."""

    def __init__(self, on_crash: Callable[[BaseException], None]) -> None:
        self._on_crash = on_crash
        self._done: asyncio.Future[outcome.Outcome[Any]] | None = None
        self._scope = trio.CancelScope()
        self._nursery: trio.Nursery | None = None

    async def start(self, main: Callable[[], Awaitable[None]]) -> None:
        """Start trio with `main` running in the guest's nursery; returns once trio is up."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        ready = loop.create_future()

        async def run() -> None:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    ready.set_result(None)
                    await main()

        def done(result: outcome.Outcome[Any]) -> None:
            assert self._done is not None
            self._done.set_result(result)
            if isinstance(result, outcome.Error):
                if not ready.done():
                    ready.set_exception(result.error)
                self._on_crash(result.error)

        trio.lowlevel.start_guest_run(run, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                                      run_sync_soon_not_threadsafe=loop.call_soon,
                                      done_callback=done, strict_exception_groups=True)
        await ready

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run `fn(*args)` as a trio task (call from the asyncio side, same thread)."""
        if self._nursery is None or self.finished:
            raise RuntimeError("the network is not running")
        self._nursery.start_soon(fn, *args)

    @property
    def finished(self) -> bool:
        """Whether the trio run has ended."""
        return self._done is not None and self._done.done()

    async def aclose(self) -> None:
        """Cancel everything in trio and wait until the trio run has completely finished."""
        if self._done is None:
            return
        self._scope.cancel()
        await asyncio.shield(self._done)
