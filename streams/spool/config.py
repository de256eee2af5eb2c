"""Configuration of a :class:`~streams.spool.queue.ResilienceQueue` (frozen, validated)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


class Backpressure(StrEnum):
    """What ``enqueue`` does when the queue is at its limits."""

    BLOCK = "block"
    """Wait for room up to ``block_timeout_s``, then raise :class:`QueueFullError`."""
    DROP_OLDEST = "drop_oldest"
    """Evict the oldest item of the least urgent lane that is not more urgent than the new one."""
    DROP_NEWEST = "drop_newest"
    """Refuse the new item; ``enqueue`` returns False and the drop is counted."""
    RAISE = "raise"
    """Raise :class:`QueueFullError` (with ``retry_after``) at once."""


class FsyncPolicy(StrEnum):
    """When spooled bytes are forced to the disk."""

    ALWAYS = "always"
    """Before ``enqueue``/``ack`` return (concurrent callers share one fsync)."""
    INTERVAL = "interval"
    """Every ``fsync_interval_ms`` in the background; a crash loses at most that window."""
    NEVER = "never"
    """Leave it to the OS; survives a process crash, not a power cut."""


class AckMode(StrEnum):
    """How items handed out by ``dequeue_batch`` are settled."""

    EXPLICIT = "explicit"
    """At-least-once: an item stays in flight (and counts against the limits) until ``ack``,
    ``nack`` or ``drop``; a crash before the ack replays it."""
    AUTO = "auto"
    """At-most-once: ``dequeue_batch`` acknowledges what it returns, as if ``ack`` followed;
    ``ack``/``nack`` are no-ops and an item lost by the caller after dequeue is gone."""


class Persistence(StrEnum):
    """Which items are written to the disk spool."""

    OVERFLOW = "overflow"
    """Memory first; the disk takes over when memory is full or the sink is down."""
    ALWAYS = "always"
    """Every item is written to disk before ``enqueue`` returns (memory is a read cache)."""


@dataclass(frozen=True)
class QueueConfig:
    """Limits and durability of a queue. ``spool_dir=None`` keeps everything in memory."""

    max_queue_size: int = 1000
    """Items held in memory (the disk spool takes over beyond this)."""
    max_queue_seconds: float = 300.0
    """Default time to live of an item; expired items are dropped (reason ``ttl_expired``)."""
    batch_size: int = 10
    """Default size of :meth:`ResilienceQueue.dequeue_batch`."""
    max_memory_bytes: int = 256 * MIB
    max_item_bytes: int = 16 * MIB
    spool_dir: Path | None = None
    persistence: Persistence = Persistence.OVERFLOW
    max_disk_items: int = 1_000_000
    max_disk_bytes: int = 4 * GIB
    """Bytes of live (un-acknowledged) records on disk, framing included."""
    segment_bytes: int = 16 * MIB
    fsync: FsyncPolicy = FsyncPolicy.ALWAYS
    fsync_interval_ms: int = 200
    backpressure: Backpressure = Backpressure.BLOCK
    block_timeout_s: float = 5.0
    retry_after_s: float = 1.0
    """``retry_after`` of a :class:`QueueFullError` when no drain rate is known yet."""
    disk_retry_s: float = 5.0
    """After a disk-full error, how long new items avoid the disk (unless space is freed)."""
    max_priority: int = 9
    """Priorities run from 0 (most urgent, dequeued first) to ``max_priority``."""
    ack_mode: AckMode = AckMode.EXPLICIT
    """EXPLICIT (the gateway: settled by ``ack``) or AUTO (settled when dequeued)."""

    def __post_init__(self) -> None:
        positive = {
            "max_queue_size": self.max_queue_size,
            "batch_size": self.batch_size,
            "max_memory_bytes": self.max_memory_bytes,
            "max_item_bytes": self.max_item_bytes,
            "max_disk_items": self.max_disk_items,
            "max_disk_bytes": self.max_disk_bytes,
            "segment_bytes": self.segment_bytes,
            "fsync_interval_ms": self.fsync_interval_ms,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.max_queue_seconds <= 0 or self.block_timeout_s < 0 or self.retry_after_s <= 0:
            raise ValueError(
                "max_queue_seconds and retry_after_s must be > 0, block_timeout_s >= 0"
            )
        if not 0 <= self.max_priority <= 255:
            raise ValueError("max_priority must be in 0..255")
        if self.persistence is Persistence.ALWAYS and self.spool_dir is None:
            raise ValueError("persistence=always needs a spool_dir")

    @property
    def durable(self) -> bool:
        """True when the queue has a disk spool."""
        return self.spool_dir is not None
