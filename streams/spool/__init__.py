"""Ingest resilience: a memory + disk ResilienceQueue and the ResilientProducer on top of it.

``QueueStats``, what ``ResilienceQueue.stats()`` returns, is the gateway's /queue/stats contract
(streams/contract/gateway_http.py), re-exported here.
"""

from streams.contract.gateway_http import QueueStats
from streams.spool.config import AckMode, Backpressure, FsyncPolicy, Persistence, QueueConfig
from streams.spool.exceptions import (
    DiskFullError,
    ItemTooLargeError,
    QueueClosedError,
    QueueFullError,
    SpoolError,
)
from streams.spool.queue import QueueItem, ResilienceQueue

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
