"""Ingest resilience: a memory + disk ResilienceQueue and the ResilientProducer on top of it."""

from streams.spool.config import AckMode, Backpressure, FsyncPolicy, Persistence, QueueConfig
from streams.spool.exceptions import (
    DiskFullError,
    ItemTooLargeError,
    QueueClosedError,
    QueueFullError,
    SpoolError,
)
from streams.spool.queue import QueueItem, ResilienceQueue
from streams.spool.stats import QueueStats

__all__ = [
    "AckMode",
    "Backpressure",
    "DiskFullError",
    "FsyncPolicy",
    "ItemTooLargeError",
    "Persistence",
    "QueueClosedError",
    "QueueConfig",
    "QueueFullError",
    "QueueItem",
    "QueueStats",
    "ResilienceQueue",
    "SpoolError",
]
