"""Shared helper for the spool tests: a drain loop."""

from __future__ import annotations

from streams.spool import ResilienceQueue


async def drain(queue: ResilienceQueue, batch: int = 7) -> list[bytes]:
    """Dequeue and ack everything; return the values in delivery order."""
    out: list[bytes] = []
    while items := await queue.dequeue_batch(batch):
        out.extend(item.value for item in items)
        await queue.ack(items)
    return out
