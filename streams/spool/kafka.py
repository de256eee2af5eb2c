"""The Kafka adapter of :class:`~streams.spool.sink.RecordSink`: aiokafka's idempotent producer.

``enable_idempotence=True`` with ``acks="all"``: the client retries a batch against a broker
that went away with the same producer id and sequence numbers, so a retry never duplicates and
never reorders a partition. aiokafka never expires such a batch, so a delivery against a dead
broker simply waits; the ResilientProducer notices the wait and spills to disk meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

from streams.kafka_security import aiokafka_kwargs
from streams.settings import Settings
from streams.spool.sink import OutboundRecord, SinkRejectedError, SinkUnavailableError

log = logging.getLogger(__name__)

_FATAL_PRODUCER_ERRORS = (
    ProducerClosed,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
"""The producer cannot go on: a new one (new producer id, sequence numbers from 0) must."""


def translate(exc: BaseException) -> Exception:
    """Map an aiokafka error to the sink's error types (retriable or rejected)."""
    name = type(exc).__name__
    if isinstance(exc, _FATAL_PRODUCER_ERRORS):
        return SinkUnavailableError(f"{name}: {exc}", restart=True)
    if isinstance(exc, KafkaTimeoutError | OSError | asyncio.TimeoutError):
        return SinkUnavailableError(f"{name}: {exc}")
    if isinstance(exc, KafkaError) and not exc.retriable:
        return SinkRejectedError(f"{name}: {exc}")
    return SinkUnavailableError(f"{name}: {exc}")


async def _delivery(fut: Awaitable[object]) -> object:
    try:
        return await fut
    except (KafkaError, OSError) as exc:
        raise translate(exc) from exc


class KafkaSink:
    """Delivers records with one ``AIOKafkaProducer`` (recreated after a failed start)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "camguard-gateway",
        linger_ms: int = 5,
        request_timeout_ms: int = 30_000,
        max_request_size: int = 8 * 1024 * 1024,
        **options: Any,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.options: dict[str, Any] = {
            "client_id": client_id,
            "linger_ms": linger_ms,
            "request_timeout_ms": request_timeout_ms,
            "max_request_size": max_request_size,
            "max_batch_size": 1024 * 1024,
            **options,
            "enable_idempotence": True,
            "acks": "all",
        }
        self._producer: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> KafkaSink:
        """A sink on ``settings``' brokers with its TLS / SASL settings."""
        return cls(settings.bootstrap_servers, **aiokafka_kwargs(settings), **options)

    async def start(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, **self.options)
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            with contextlib.suppress(KafkaError, OSError):
                await producer.stop()
            raise translate(exc) from exc
        self._producer = producer

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send(self, record: OutboundRecord) -> Awaitable[object]:
        if self._producer is None:
            raise SinkUnavailableError("kafka producer is not started", restart=True)
        try:
            fut = await self._producer.send(
                record.topic, record.value, key=record.key, timestamp_ms=record.timestamp_ms
            )
        except (KafkaError, OSError) as exc:
            raise translate(exc) from exc
        return _delivery(fut)
