"""Keep ``exactly_once`` commits between units of work, never inside one.

Faust commits a partition's transaction on a timer, from its own task, while agents run. A
handler that is halfway through a message (or a batch) has some of its records in the
transaction being committed and the rest in the next one; the message's offset is only
acknowledged when it is done, so it is not in the commit. If the next transaction is then
given up (a rebalance fences it, the worker dies), the message is read again and its first
half is published twice: a duplicate output, or a table row that counted it twice
(``camera.events`` under a rebalance, CI on 2026-12-02).

:class:`CommitGate` is a writer-preferring gate: handlers hold :meth:`CommitGate.handling`
around a unit of work *and its acknowledgement*; a commit holds :meth:`CommitGate.committing`,
which waits for the units running to finish and holds new ones back until it is done. A
unit's records and offset then always land in the same transaction. With ``at_least_once``
there is no transaction to split and the gate is open (``enabled=False``).

The gate is asyncio-only: Faust's commits, rebalance callbacks, fetcher and agents all run
on the worker's event loop. A commit started from inside a unit (same task) is not held
back, since waiting for itself would never end.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("camguard_in_unit", default=False)


class CommitGate:
    """Units of work run together; a commit runs alone (see the module doc)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()
        self._open.set()
        self._commit = asyncio.Lock()

    @property
    def running(self) -> int:
        """Units of work in progress."""
        return self._running

    @asynccontextmanager
    async def handling(self) -> AsyncIterator[None]:
        """Hold around a unit of work and its acknowledgement."""
        if not self.enabled or _inside.get():
            yield
            return
        while not self._open.is_set():  # a commit is waiting or running: let it go first
            await self._open.wait()
        self._running += 1
        self._idle.clear()
        token = _inside.set(True)
        try:
            yield
        finally:
            _inside.reset(token)
            self._running -= 1
            if not self._running:
                self._idle.set()

    @asynccontextmanager
    async def committing(self) -> AsyncIterator[None]:
        """Hold around a commit: no unit of work is halfway through while it runs."""
        if not self.enabled or _inside.get():
            yield
            return
        async with self._commit:
            self._open.clear()
            try:
                await self._idle.wait()
                yield
            finally:
                self._open.set()
