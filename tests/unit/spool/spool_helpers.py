"""Shared helpers for the spool tests: a hand-driven clock and a drain loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from streams.spool import ResilienceQueue


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def drain(queue: ResilienceQueue, batch: int = 7) -> list[bytes]:
    """Dequeue and ack everything; return the values in delivery order."""
    out: list[bytes] = []
    while items := await queue.dequeue_batch(batch):
        out.extend(item.value for item in items)
        await queue.ack(items)
    return out


async def eventually(predicate: Callable[[], bool], within_s: float = 20.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``within_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
