"""Group commit: concurrent appends and releases share one write and one fsync.

The first caller starts a drain task; callers that arrive while a commit is running join the
next one. Every file operation runs on the store's single executor thread, never on the event
loop. With ``FsyncPolicy.INTERVAL`` a background task fsyncs every ``fsync_interval_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from streams.spool.config import FsyncPolicy
from streams.spool.framing import Location
from streams.spool.segments import NewRecord, ReadResult, SegmentStore

log = logging.getLogger(__name__)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class SpoolWriter:
    """Serialises a :class:`SegmentStore` behind an executor and batches its commits."""

    def __init__(
        self,
        store: SegmentStore,
        executor: ThreadPoolExecutor,
        fsync: FsyncPolicy,
        interval_ms: int,
    ) -> None:
        self.store = store
        self.executor = executor
        self.fsync = fsync
        self.interval_s = interval_ms / 1000.0
        self._records: list[tuple[NewRecord, asyncio.Future[Location]]] = []
        self._released: list[Location] = []
        self._release_waiters: list[asyncio.Future[None]] = []
        self._drain: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._dirty = False
        self.commits = 0

    def start(self) -> None:
        if self.fsync is FsyncPolicy.INTERVAL and self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def write(self, record: NewRecord) -> Location:
        """Append ``record``; returns once written (and fsynced under ``ALWAYS``)."""
        fut: asyncio.Future[Location] = asyncio.get_running_loop().create_future()
        self._records.append((record, fut))
        self._kick()
        return await fut

    async def release(self, locations: Sequence[Location], *, wait: bool = True) -> None:
        """Settle records on disk (ack log entry, segment reclaimed once empty)."""
        if not locations:
            return
        self._released.extend(locations)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._release_waiters.append(fut)
        self._kick()
        if wait:
            await fut

    async def read(self, locations: Sequence[Location]) -> list[ReadResult]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.store.read, list(locations))

    async def sync(self) -> None:
        """Wait for pending commits, then fsync."""
        await self.flush()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.store.sync)
        self._dirty = False

    async def flush(self) -> None:
        while self._drain is not None and not self._drain.done():
            await asyncio.shield(self._drain)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.flush()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.store.close)

    def _kick(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        sync = self.fsync is FsyncPolicy.ALWAYS
        while self._records or self._released:
            records, self._records = self._records, []
            released, self._released = self._released, []
            waiters, self._release_waiters = self._release_waiters, []
            try:
                locations = await loop.run_in_executor(
                    self.executor,
                    self.store.commit,
                    [r for r, _ in records],
                    released,
                    sync,
                )
            except Exception as exc:  # handed to every writer waiting on this commit
                for _, fut in records:
                    if not fut.done():
                        fut.set_exception(exc)
                for waiter in waiters:
                    _resolve(waiter)
                continue
            self.commits += 1
            self._dirty = self._dirty or not sync
            for (_, fut), location in zip(records, locations, strict=True):
                if not fut.done():
                    fut.set_result(location)
            for waiter in waiters:
                _resolve(waiter)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            if self._dirty:
                self._dirty = False
                try:
                    await loop.run_in_executor(self.executor, self.store.sync)
                except OSError as exc:
                    self._dirty = True
                    log.warning("spool fsync failed: %s", exc)
