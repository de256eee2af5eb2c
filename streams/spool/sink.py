"""Where a :class:`~streams.spool.producer.ResilientProducer` delivers: one small interface.

``RecordSink.send`` hands a record to the client and returns its *delivery* awaitable, the way
Kafka clients work: an error from ``send`` itself means the record was never handed over (safe
to send again); an error from the awaitable means delivery failed. Errors are
:class:`SinkUnavailableError` (retriable: the broker is unreachable) or
:class:`SinkRejectedError` (this record will never be accepted).

:class:`MemorySink` is the in-memory fake for tests: while ``available`` is False it refuses to
start and holds deliveries, like an idempotent Kafka producer retrying against a dead broker.
The Kafka adapter is :class:`streams.spool.kafka.KafkaSink`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from streams.spool.exceptions import SpoolError

_TOPIC_LEN = struct.Struct("<BH")
_ENVELOPE_VERSION = 1


@dataclass(frozen=True)
class OutboundRecord:
    """A record for the sink; ``timestamp_ms`` is when it was queued (the Kafka timestamp)."""

    topic: str
    key: bytes | None
    value: bytes
    timestamp_ms: int | None = None


class SinkUnavailableError(SpoolError):
    """The sink cannot take records now (broker down, timeout). The records are retried.

    Nothing to do if it passes; if it lasts, check the broker address and that it is up.
    """

    retriable = True
    reason = "sink_unavailable"
    status = 503

    def __init__(self, message: str, *, restart: bool = False) -> None:
        super().__init__(message)
        self.restart = restart
        """True when the client must be recreated before the next try."""


class SinkRejectedError(SpoolError):
    """The sink refused this record for good (too large, unknown topic, not authorized).

    The record is dropped and counted under ``sink_rejected``; fix the producer or the topic.
    """

    reason = "sink_rejected"
    status = 422


class RecordSink(Protocol):
    """A client that delivers records (Kafka in production, memory in tests)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, record: OutboundRecord) -> Awaitable[object]: ...


def pack_envelope(topic: str, value: bytes) -> bytes:
    """A queue item carrying ``value`` for ``topic``."""
    name = topic.encode()
    return _TOPIC_LEN.pack(_ENVELOPE_VERSION, len(name)) + name + value


def unpack_envelope(item: bytes) -> tuple[str, bytes]:
    """``(topic, value)`` of a queue item written by :func:`pack_envelope`."""
    version, size = _TOPIC_LEN.unpack_from(item)
    if version != _ENVELOPE_VERSION:
        raise ValueError(f"unknown envelope version {version}")
    start = _TOPIC_LEN.size
    return item[start : start + size].decode(), item[start + size :]


class MemorySink:
    """An in-memory sink with an on/off switch, for tests and local runs."""

    def __init__(self, *, available: bool = True) -> None:
        self.available = available
        self.started = False
        self.delivered: list[OutboundRecord] = []
        self.rejected_topics: set[str] = set()
        self._held: list[tuple[OutboundRecord, asyncio.Future[None]]] = []

    async def start(self) -> None:
        if not self.available:
            raise SinkUnavailableError("memory sink is switched off")
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(self, record: OutboundRecord) -> Awaitable[object]:
        if not self.started:
            raise SinkUnavailableError("memory sink is not started")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if record.topic in self.rejected_topics:
            fut.set_exception(SinkRejectedError(f"topic {record.topic} refuses records"))
        elif self.available and not self._held:
            self.delivered.append(record)
            fut.set_result(None)
        else:
            self._held.append((record, fut))
        return fut

    def set_available(self, available: bool) -> None:
        """Switch the sink; switching on delivers what was held, in order."""
        self.available = available
        if available:
            held, self._held = self._held, []
            for record, fut in held:
                self.delivered.append(record)
                if not fut.done():
                    fut.set_result(None)

    def by_key(self, topic: str) -> dict[bytes | None, list[bytes]]:
        """Delivered values of ``topic`` grouped by key, in delivery order."""
        out: dict[bytes | None, list[bytes]] = {}
        for record in self.delivered:
            if record.topic == topic:
                out.setdefault(record.key, []).append(record.value)
        return out
