"""The Avro enum symbols code branches on, written once (schemas/avro/ holds the records).

``EventKind`` is ``CameraEvent.kind`` (the ``camguard.v1.CameraEventKind`` enum of
schemas/avro/CameraEvent.avsc): the gateway writes it, the health and breaker folds
(streams/resilience/) read it.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """The ``CameraEventKind`` Avro symbols."""

    HEARTBEAT = "HEARTBEAT"
    FRAME_OK = "FRAME_OK"
    FRAME_ERROR = "FRAME_ERROR"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"
