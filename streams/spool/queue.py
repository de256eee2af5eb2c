"""ResilienceQueue: a priority queue in memory with a durable disk spool behind it.

::

    queue = ResilienceQueue("frames", QueueConfig(max_queue_size=1000, spool_dir=Path("var/spool")))
    await queue.enqueue(jpeg_bytes, priority=1, key=b"cam-1")
    batch = await queue.dequeue_batch(wait_s=1.0)
    ...send batch...
    await queue.ack(batch)        # or nack(batch): back to the head of their lanes

Items live in memory while there is room and the sink is up; the disk spool takes over when
memory is full or after :meth:`mark_sink_down` (which also spills what memory holds), or for
every item with ``Persistence.ALWAYS``. Priority 0 is the most urgent; within a priority items
leave in the order they came (FIFO), wherever they are stored. Delivery is at-least-once: an
item is settled only by :meth:`ack` (or dropped by expiry, eviction or :meth:`drop`). With
``QueueConfig(ack_mode=AckMode.AUTO)`` it is at-most-once instead: ``dequeue_batch`` settles
what it returns, so a consumer that never acknowledges does not fill the queue with items in
flight (the ``common_schemas`` API works this way; the gateway keeps explicit acks).

The bookkeeping is :class:`~streams.spool.book.QueueBook` (pure, ``now`` passed in); file I/O
happens in :class:`~streams.spool.segments.SegmentStore` on one executor thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from streams.contract.gateway_http import QueueStats
from streams.spool.book import RECORD_OVERHEAD, Entry, Placement, QueueBook, Status, Tier
from streams.spool.config import AckMode, Backpressure, FsyncPolicy, Persistence, QueueConfig
from streams.spool.exceptions import (
    DiskFullError,
    ItemTooLargeError,
    QueueClosedError,
    QueueFullError,
)
from streams.spool.framing import Location, RecordCipher, RecordHeader
from streams.spool.recovery import Recovery, open_spool
from streams.spool.segments import NewRecord
from streams.spool.writer import SpoolWriter

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class QueueItem:
    """An item handed out by :meth:`ResilienceQueue.dequeue_batch`; pass it back to ack/nack."""

    seq: int
    priority: int
    key: bytes | None
    value: bytes
    enqueued_ms: int
    expires_ms: int
    attempts: int


class ResilienceQueue:
    """Memory first, disk spool behind; priorities, TTL, limits, backpressure, acks."""

    def __init__(
        self,
        name: str,
        config: QueueConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        cipher: RecordCipher | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"queue name {name!r} must match {_NAME.pattern}")
        self.name = name
        self.config = config or QueueConfig()
        self._clock = clock
        self._cipher = cipher
        self._book = QueueBook(self.config)
        self._writer: SpoolWriter | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._recovery: Recovery | None = None
        self._open_lock = asyncio.Lock()
        self._opened = self._closed = False
        self._sink_up = True
        self._disk_blocked_until = 0.0
        self._next_seq = 1
        self._items_event = asyncio.Event()
        self._space_event = asyncio.Event()
        self._dropped: Counter[str] = Counter()
        self._totals: Counter[str] = Counter()

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the spool (recovering what a previous run left); idempotent."""
        async with self._open_lock:
            if self._opened:
                return
            if self._closed:
                raise QueueClosedError(f"queue {self.name!r} is closed")
            if self.config.spool_dir is not None:
                await self._open_spool()
            self._opened = True

    async def _open_spool(self) -> None:
        assert self.config.spool_dir is not None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"spool-{self.name}")
        opener = partial(
            open_spool,
            self.config.spool_dir / self.name,
            segment_bytes=self.config.segment_bytes,
            cipher=self._cipher,
            fsync_on_rotate=self.config.fsync is not FsyncPolicy.NEVER,
            queue_name=self.name,
        )
        try:
            store, recovery = await asyncio.get_running_loop().run_in_executor(
                self._executor, opener
            )
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        self._recovery = recovery
        self._writer = SpoolWriter(
            store, self._executor, self.config.fsync, self.config.fsync_interval_ms
        )
        self._writer.start()
        self._next_seq = recovery.next_seq
        now_ms = self._now_ms()
        expired = []
        for rec in recovery.records:
            header, location = rec.header, rec.location
            entry = Entry(
                seq=header.seq,
                priority=header.priority,
                key=None,
                value=None,
                size=max(location.length - RECORD_OVERHEAD, 0),
                enqueued_ms=header.enqueued_ms,
                expires_ms=header.expires_ms,
                tier=Tier.DISK,
                location=location,
            )
            self._book.add(entry)
            if header.expires_ms <= now_ms:
                expired.append(entry)
        self._totals["recovered"] = len(recovery.records) - len(expired)
        await self._drop_entries(expired, "ttl_expired")

    async def close(self) -> None:
        """Stop accepting items; spill what memory holds to disk (it replays on next open)."""
        if self._closed:
            return
        self._closed = True
        self._items_event = self._wake(self._items_event)
        self._space_event = self._wake(self._space_event)
        if self._writer is not None:
            await self._spill(list(self._book.memory_entries()))
            await self._writer.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> ResilienceQueue:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- enqueue -----------------------------------------------------------------------------

    async def enqueue(
        self,
        item: bytes,
        priority: int = 1,
        *,
        key: bytes | None = None,
        ttl_s: float | None = None,
    ) -> bool:
        """Queue ``item``; True when accepted, False when a drop mode refused it.

        Returns once the item is stored: in memory, or written to disk (and fsynced under
        ``FsyncPolicy.ALWAYS``). Raises :class:`ItemTooLargeError`, :class:`QueueFullError`
        (raise mode, or block mode past ``block_timeout_s``) and :class:`QueueClosedError`.
        """
        if not self._opened:
            await self.open()
        size = len(item) + (len(key) if key is not None else 0)
        if not 0 <= priority <= self.config.max_priority:
            raise ValueError(f"priority must be in 0..{self.config.max_priority}")
        if size > self.config.max_item_bytes:
            raise ItemTooLargeError(size, self.config.max_item_bytes)
        ttl_ms = round(1000 * (ttl_s if ttl_s is not None else self.config.max_queue_seconds))
        deadline: float | None = None
        while True:
            if self._closed:
                raise QueueClosedError(f"queue {self.name!r} is closed")
            placement = await self._room_for(size)
            if placement is None:
                if deadline is None:
                    deadline = asyncio.get_running_loop().time() + self.config.block_timeout_s
                accepted = await self._backpressure(priority, deadline)
                if accepted is False:
                    return False
                continue
            now_ms = self._now_ms()
            entry = Entry(
                seq=self._next_seq,
                priority=priority,
                key=key,
                value=item,
                size=size,
                enqueued_ms=now_ms,
                expires_ms=now_ms + ttl_ms,
                tier=placement.tier,
                cached=placement.cached,
            )
            self._next_seq += 1
            self._book.add(entry)
            self._items_event = self._wake(self._items_event)
            if entry.tier is Tier.DISK and not await self._write(entry):
                continue  # the disk refused it: placed again, without the disk
            self._totals["enqueued"] += 1
            return True

    async def _room_for(self, size: int) -> Placement | None:
        placement = self._place(size)
        if placement is None:
            expired = self._book.expire(self._now_ms(), full=True)
            if expired:
                await self._dropped_settled(expired, "ttl_expired")
                placement = self._place(size)
        return placement

    def _place(self, size: int) -> Placement | None:
        disk_ok = self._writer is not None and self._clock() >= self._disk_blocked_until
        return self._book.place(size, sink_up=self._sink_up, disk_ok=disk_ok)

    async def _backpressure(self, priority: int, deadline: float) -> bool | None:
        """Apply the backpressure mode; False = item refused, None = try placing again."""
        mode = self.config.backpressure
        reason = "disk_full" if self.disk_full else "queue_full"
        if mode is Backpressure.DROP_NEWEST:
            self._dropped[reason] += 1
            return False
        if mode is Backpressure.DROP_OLDEST:
            victim = self._book.evict_candidate(priority)
            if victim is None:
                self._dropped[reason] += 1
                return False
            await self._drop_entries([victim], "evicted")
            return None
        if mode is Backpressure.RAISE:
            raise self._full_error(reason)
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise self._full_error("block_timeout")
        if self.disk_full:
            remaining = min(remaining, self.config.disk_retry_s)
        await self._wait(self._space_event, remaining)
        return None

    def _full_error(self, reason: str) -> QueueFullError:
        self._totals["full_errors"] += 1
        if self.disk_full:
            return DiskFullError(self.name, reason, retry_after=self.config.disk_retry_s)
        return QueueFullError(self.name, reason, retry_after=self.config.retry_after_s)

    async def _write(self, entry: Entry) -> bool:
        """Write a disk-tier entry; False when the disk refused and it must be placed again."""
        assert self._writer is not None
        assert entry.value is not None
        header = RecordHeader(entry.seq, entry.priority, entry.enqueued_ms, entry.expires_ms)
        try:
            location = await self._writer.write(NewRecord(header, entry.key, entry.value))
        except (DiskFullError, OSError) as exc:
            # Full or failing disk (EIO): keep going without it for disk_retry_s.
            self._disk_failed(exc)
            if entry.status is Status.PENDING:
                self._book.settle([entry])
                return False
            if entry.status is Status.IN_FLIGHT:
                self._book.move(entry, Tier.MEMORY)  # already handed out with its value
            return True
        if self.config.persistence is Persistence.OVERFLOW:
            self._totals["spilled"] += 1
        await self._stored(entry, location)
        return True

    async def _stored(self, entry: Entry, location: Location) -> None:
        if not self._book.stored(entry, location) and self._writer is not None:
            await self._writer.release([location], wait=False)

    # --- dequeue and settle ------------------------------------------------------------------

    async def dequeue_batch(
        self, max_items: int | None = None, *, wait_s: float | None = 0.0
    ) -> list[QueueItem]:
        """Up to ``max_items`` (default ``batch_size``) items, most urgent first.

        Waits up to ``wait_s`` seconds (None: until an item or close) when the queue is
        empty; returns an empty list then. Items stay in flight until acked or nacked, unless
        the queue is in ``AckMode.AUTO``: then they are acknowledged before they are returned.
        """
        if not self._opened:
            await self.open()
        limit = max_items or self.config.batch_size
        loop = asyncio.get_running_loop()
        deadline = None if wait_s is None else loop.time() + wait_s
        while not self._closed:
            taken, expired = self._book.take(limit, self._now_ms())
            if expired:
                await self._dropped_settled(expired, "ttl_expired")
            if taken:
                items = await self._materialise(taken)
                if items:
                    self._totals["dequeued"] += len(items)
                    if self.config.ack_mode is AckMode.AUTO:
                        await self._settle_acked([e for e in taken if e.status is Status.IN_FLIGHT])
                    return items
            if taken or expired:
                continue  # something may have arrived while we awaited
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            await self._wait(self._items_event, remaining)
        return []

    async def _materialise(self, taken: list[Entry]) -> list[QueueItem]:
        values: dict[int, tuple[bytes | None, bytes]] = {}
        need = [e for e in taken if e.value is None]
        if need:
            assert self._writer is not None
            results = await self._writer.read([e.location for e in need if e.location])
            corrupt = []
            for entry, result in zip(need, results, strict=True):
                if isinstance(result, Exception):
                    corrupt.append(entry)
                else:
                    values[entry.seq] = result
                    entry.key = result[0]
            await self._drop_entries(corrupt, "corrupt")
        items = []
        for entry in taken:
            if entry.status is not Status.IN_FLIGHT:
                continue
            key, value = values.get(entry.seq, (entry.key, entry.value or b""))
            items.append(
                QueueItem(
                    entry.seq,
                    entry.priority,
                    key,
                    value,
                    entry.enqueued_ms,
                    entry.expires_ms,
                    entry.attempts,
                )
            )
        return items

    def _in_flight(self, items: Iterable[QueueItem]) -> list[Entry]:
        entries = (self._book.live.get(item.seq) for item in items)
        return [e for e in entries if e is not None and e.status is Status.IN_FLIGHT]

    async def ack(self, items: Iterable[QueueItem]) -> None:
        """The items were delivered: forget them (durably under ``FsyncPolicy.ALWAYS``)."""
        await self._settle_acked(self._in_flight(items))

    async def _settle_acked(self, entries: list[Entry]) -> None:
        done = self._book.settle(entries)
        self._totals["acked"] += len(done)
        self._totals["drained"] += sum(1 for e in done if e.tier is Tier.DISK)
        await self._release(done, wait=self.config.fsync is FsyncPolicy.ALWAYS)

    async def nack(self, items: Iterable[QueueItem]) -> None:
        """The items were not delivered: back to the head of their lanes, in order."""
        back = self._book.requeue(self._in_flight(items))
        self._totals["nacked"] += len(back)
        if back:
            self._items_event = self._wake(self._items_event)

    async def drop(self, items: Iterable[QueueItem], reason: str) -> None:
        """Give up on in-flight items (e.g. the sink rejected them for good), counted by reason."""
        await self._drop_entries(self._in_flight(items), reason)

    async def expire(self) -> int:
        """Drop pending items past their time to live; return how many."""
        expired = self._book.expire(self._now_ms())
        await self._dropped_settled(expired, "ttl_expired")
        return len(expired)

    async def _drop_entries(self, entries: list[Entry], reason: str) -> None:
        await self._dropped_settled(self._book.settle(entries) if entries else [], reason)

    async def _dropped_settled(self, done: list[Entry], reason: str) -> None:
        """Count and release entries the book already settled (expired, evicted, corrupt)."""
        if done:
            self._dropped[reason] += len(done)
            await self._release(done, wait=False)

    async def _release(self, done: list[Entry], *, wait: bool) -> None:
        if done:
            self._space_event = self._wake(self._space_event)
        locations = [e.location for e in done if e.location is not None]
        if locations and self._writer is not None and not self._closed:
            await self._writer.release(locations, wait=wait)

    # --- sink state and spill ----------------------------------------------------------------

    @property
    def sink_up(self) -> bool:
        return self._sink_up

    async def mark_sink_down(self) -> int:
        """The sink is unreachable: new items go to disk, memory is spilled. Returns spilled."""
        self._sink_up = False
        return await self._spill(self._book.memory_entries())

    def mark_sink_up(self) -> None:
        """The sink is back: new items use memory again; spilled items drain from disk."""
        self._sink_up = True

    async def _spill(self, entries: list[Entry]) -> int:
        if self._writer is None or not entries:
            return 0
        if self._clock() < self._disk_blocked_until:
            return 0
        moving = []
        for entry in entries:
            if entry.value is None or not self._book.disk_room(entry.size):
                break
            self._book.move(entry, Tier.DISK)
            moving.append(entry)
        results = await asyncio.gather(
            *(
                self._writer.write(
                    NewRecord(
                        RecordHeader(e.seq, e.priority, e.enqueued_ms, e.expires_ms),
                        e.key,
                        e.value or b"",
                    )
                )
                for e in moving
            ),
            return_exceptions=True,
        )
        spilled = 0
        for entry, result in zip(moving, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, DiskFullError | OSError):
                    self._disk_failed(result)
                if entry.status is not Status.DONE:
                    self._book.move(entry, Tier.MEMORY)
                continue
            spilled += 1
            await self._stored(entry, result)
        self._totals["spilled"] += spilled
        return spilled

    def _disk_failed(self, exc: BaseException) -> None:
        if not self.disk_full:
            log.warning("spool %s: disk write failed (%s); avoiding the disk", self.name, exc)
        self._disk_blocked_until = self._clock() + self.config.disk_retry_s

    # --- introspection -----------------------------------------------------------------------

    @property
    def disk_full(self) -> bool:
        return self._clock() < self._disk_blocked_until

    def __len__(self) -> int:
        """Items pending or in flight."""
        return self._book.pending + self._book.in_flight

    def stats(self) -> QueueStats:
        book = self._book
        oldest = book.oldest_enqueued_ms()
        store = self._writer.store if self._writer is not None else None
        recovery = self._recovery
        return QueueStats(
            name=self.name,
            memory_queue_size=book.pending_memory,
            disk_queue_size=book.pending_disk,
            total_queued=book.pending,
            in_flight=book.in_flight,
            memory_bytes=book.memory_bytes,
            disk_bytes=book.disk_bytes,
            disk_file_bytes=store.file_bytes if store is not None else 0,
            disk_segments=store.segments if store is not None else 0,
            oldest_item_age_s=None if oldest is None else max(0.0, self._clock() - oldest / 1000),
            enqueued_total=self._totals["enqueued"],
            dequeued_total=self._totals["dequeued"],
            acked_total=self._totals["acked"],
            nacked_total=self._totals["nacked"],
            spilled_total=self._totals["spilled"],
            drained_total=self._totals["drained"],
            recovered_total=self._totals["recovered"],
            full_errors_total=self._totals["full_errors"],
            sink_up=self._sink_up,
            disk_full=self.disk_full,
            durable=self.config.durable,
            dropped=dict(self._dropped),
            dropped_total=sum(self._dropped.values()),
            quarantined=tuple(q.name for q in recovery.quarantined) if recovery else (),
            truncated_bytes=recovery.truncated_bytes if recovery else 0,
        )

    async def sync(self) -> None:
        """Force everything written so far to disk (whatever the fsync policy)."""
        if self._writer is not None:
            await self._writer.sync()

    # --- helpers -----------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    @staticmethod
    def _wake(event: asyncio.Event) -> asyncio.Event:
        """Release everyone waiting on ``event`` (it stays set); later waiters get a new one."""
        event.set()
        return asyncio.Event()

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float | None) -> None:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return
