"""The gateway's JSON pages: ``GET /queue/stats`` and what it is made of.

The queue's figures are written once, :class:`QueueStats`: the spool (streams/spool/queue.py)
returns it from ``ResilienceQueue.stats()``, the gateway's page adds its producer and cameras
(:class:`QueueStatsResponse`), and the worker's dashboard relays the same model
(:class:`~streams.contract.worker_http.RelayedQueueStats`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

#: ``info.title`` of the gateway's OpenAPI document, and its /healthz ``app_id``.
GATEWAY_SERVICE = "camguard-gateway"


class QueueStats(BaseModel):
    """Sizes count pending items (not yet handed out); ``in_flight`` awaits ack or nack."""

    model_config = ConfigDict(frozen=True)

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
    dropped: dict[str, int]
    """Items dropped, by reason: ttl_expired, evicted, queue_full, disk_full, corrupt, ..."""
    dropped_total: int
    """The sum of ``dropped``."""
    quarantined: tuple[str, ...]
    """Damaged segment files moved to ``quarantine/`` when the queue was opened."""
    truncated_bytes: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the seed's keys memory_queue_size, disk_queue_size, total_queued."""
        return self.model_dump(mode="json")


class GatewayProducerStats(BaseModel):
    """The gateway's Kafka producer: connection, breaker and delivery counters."""

    sink_connected: bool
    breaker_state: Literal["CLOSED", "OPEN", "HALF_OPEN"]
    delivered_total: int
    batches_total: int
    retried_total: int
    rejected_total: int
    outages_total: int  # times the sink was marked down (the queue spilled)
    last_error: str | None
    last_delivery_ms: float | None


class GatewayCameraStats(BaseModel):
    """One camera served by the gateway."""

    camera_id: str
    source: str
    connected: bool
    frames_captured: int
    frames_queued: int
    frames_refused: int
    errors: int
    last_seq: int
    fps: float
    last_error: str | None


class QueueStatsResponse(QueueStats):
    """The gateway's ResilienceQueue (memory + disk spool), producer and cameras."""

    model_config = ConfigDict(frozen=False)

    producer: GatewayProducerStats
    cameras: dict[str, GatewayCameraStats]
