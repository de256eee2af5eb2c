"""``ResilienceQueue`` / ``QueueConfig`` of the specification, over camguard's spool queue.

::

    queue = ResilienceQueue("events", QueueConfig(max_queue_size=1000, max_queue_seconds=300.0,
                                                  batch_size=10))
    await queue.enqueue(event_data, priority=1)     # a dict (any JSON value) or bytes
    batch = await queue.dequeue_batch()             # the items as given, most urgent first

What differs from :class:`streams.spool.queue.ResilienceQueue` (which does the work):

- Items are Python values: JSON-serialisable values come back as ``json.loads`` gives them
  (a dict as a dict; a tuple as a list), ``bytes`` come back as ``bytes``. One leading tag byte
  on the stored record says which.
- :class:`QueueConfig` defaults to ``ack_mode=AckMode.AUTO``: the specification never
  acknowledges, so ``dequeue_batch`` settles what it returns (at-most-once). Pass
  ``ack_mode=AckMode.EXPLICIT`` and use ``queue.spool`` for camguard's at-least-once acks.
- :class:`QueueConfig` has a disk fallback unless ``spool_dir=None``: items beyond
  ``max_queue_size`` and items still queued at :meth:`close` go to
  ``CAMGUARD_SPOOL_DIR/<name>`` (``./var/spool/<name>`` by default, the gateway's spool
  directory). One process at a time may open a queue directory (it is locked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.contract.gateway_http import QueueStats
from streams.settings import Settings
from streams.spool import config as spool_config
from streams.spool.config import AckMode
from streams.spool.queue import ResilienceQueue as SpoolQueue

_BYTES, _JSON = b"\x00", b"\x01"


def default_spool_dir() -> Path:
    """Where a :class:`QueueConfig` spools: ``CAMGUARD_SPOOL_DIR`` (default ``var/spool``)."""
    return Settings().spool_dir


@dataclass(frozen=True)
class QueueConfig(spool_config.QueueConfig):
    """camguard's :class:`~streams.spool.config.QueueConfig` with the specification's defaults:
    acknowledged on dequeue, and spooled to :func:`default_spool_dir` beyond memory."""

    spool_dir: Path | None = field(default_factory=default_spool_dir)
    ack_mode: AckMode = AckMode.AUTO


def encode_item(item: object) -> bytes:
    """The stored form of ``item``: bytes as they are, anything else as JSON (TypeError if not
    JSON-serialisable)."""
    if isinstance(item, bytes | bytearray | memoryview):
        return _BYTES + bytes(item)
    return _JSON + json.dumps(item, separators=(",", ":"), allow_nan=False).encode()


def decode_item(stored: bytes) -> Any:
    """The item :func:`encode_item` stored."""
    if stored[:1] == _BYTES:
        return stored[1:]
    return json.loads(stored[1:])


class ResilienceQueue:
    """The specification's queue: Python values in, the same values out."""

    def __init__(self, name: str, config: spool_config.QueueConfig | None = None) -> None:
        self.spool = SpoolQueue(name, config or QueueConfig())
        """camguard's queue underneath (stats, sink state, explicit acks)."""

    @property
    def name(self) -> str:
        return self.spool.name

    @property
    def config(self) -> spool_config.QueueConfig:
        return self.spool.config

    async def enqueue(self, item: object, priority: int = 1, *, ttl_s: float | None = None) -> bool:
        """Queue ``item`` (0 = most urgent); False when a drop backpressure mode refused it."""
        return await self.spool.enqueue(encode_item(item), priority, ttl_s=ttl_s)

    async def dequeue_batch(
        self, max_items: int | None = None, *, wait_s: float | None = 0.0
    ) -> list[Any]:
        """Up to ``max_items`` (default ``batch_size``) items; [] when none came within
        ``wait_s`` seconds (0: do not wait)."""
        return [
            decode_item(i.value) for i in await self.spool.dequeue_batch(max_items, wait_s=wait_s)
        ]

    def get_stats(self) -> dict[str, Any]:
        """``memory_queue_size``, ``disk_queue_size``, ``total_queued`` and camguard's counters."""
        return self.spool.stats().as_dict()

    def stats(self) -> QueueStats:
        return self.spool.stats()

    def __len__(self) -> int:
        return len(self.spool)

    async def open(self) -> None:
        """Open the disk spool (recovering a previous run's items); enqueue opens it too."""
        await self.spool.open()

    async def close(self) -> None:
        """Stop accepting items; what memory holds is spooled to disk for the next run."""
        await self.spool.close()

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
