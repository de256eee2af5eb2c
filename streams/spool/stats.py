"""A snapshot of a queue's sizes, bytes, ages and counters (GET /queue/stats shows it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class QueueStats:
    """Sizes count pending items (not yet handed out); ``in_flight`` awaits ack or nack."""

    name: str
    memory_queue_size: int
    disk_queue_size: int
    total_queued: int
    in_flight: int
    memory_bytes: int
    disk_bytes: int
    """Live record bytes on disk (what ``max_disk_bytes`` limits)."""
    disk_file_bytes: int
    """Bytes of the segment files, reclaimed a whole segment at a time."""
    disk_segments: int
    oldest_item_age_s: float | None
    enqueued_total: int
    dequeued_total: int
    acked_total: int
    nacked_total: int
    spilled_total: int
    """Items written to disk because memory was full or the sink was down."""
    drained_total: int
    """Items acknowledged after being read back from disk."""
    recovered_total: int
    """Items found on disk when the queue was opened."""
    full_errors_total: int
    """``enqueue`` calls refused with QueueFullError (raise mode, block timeout)."""
    sink_up: bool
    disk_full: bool
    durable: bool
    dropped: dict[str, int] = field(default_factory=dict)
    """Items dropped, by reason: ttl_expired, evicted, queue_full, disk_full, corrupt, ..."""
    quarantined: tuple[str, ...] = ()
    truncated_bytes: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the seed's keys memory_queue_size, disk_queue_size, total_queued."""
        out = asdict(self)
        out["dropped"] = dict(self.dropped)
        out["quarantined"] = list(self.quarantined)
        out["dropped_total"] = self.dropped_total
        return out
