"""The Avro enum symbols code branches on, written once (schemas/avro/ holds the records).

``EventKind`` is ``CameraEvent.kind`` (the ``camguard.v1.CameraEventKind`` enum of
schemas/avro/CameraEvent.avsc): the gateway writes it, the health and breaker folds
(streams/resilience/) read it. ``RawMessage`` is what camguard reads of a consumed record of any
topic (Faust's ``Message`` and aiokafka's ``ConsumerRecord`` both fit).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol


class RawMessage(Protocol):
    """What we need of a consumed Kafka message (Faust's and aiokafka's both fit)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Any: ...
    @property
    def value(self) -> Any: ...


class EventKind(StrEnum):
    """The ``CameraEventKind`` Avro symbols."""

    HEARTBEAT = "HEARTBEAT"
    FRAME_OK = "FRAME_OK"
    FRAME_ERROR = "FRAME_ERROR"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"
