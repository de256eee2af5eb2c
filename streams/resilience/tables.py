"""The Faust tables ``breakers`` and ``camera_health`` (adapter; the logic is pure elsewhere).

Both are keyed by camera_id (its UTF-8 bytes, as on the topics) and hold JSON dicts written by
:mod:`streams.resilience.serde`. They are changelog-backed (``camguard-breakers-changelog``,
``camguard-camera_health-changelog``) with ``topic_partitions`` partitions, so they are
co-partitioned with ``camera.frames`` and ``camera.events``: a table may only be written while
an agent handles a message of one of those topics (the changelog record goes to that message's
partition). Standby replicas come from ``table_standby_replicas``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import faust
from faust.streams import _current_event

from streams.resilience.breaker import BreakerState
from streams.resilience.camera import CameraUpdate
from streams.resilience.health import HealthState
from streams.resilience.serde import (
    breaker_from_dict,
    breaker_to_dict,
    health_from_dict,
    health_to_dict,
)
from streams.settings import Settings

BREAKERS = "breakers"
CAMERA_HEALTH = "camera_health"


def declare_resilience_tables(app: faust.App, settings: Settings) -> dict[str, Any]:
    """Declare both tables on ``app``; return them by name."""
    # bytes keys are stored and sent raw (the camera_id's UTF-8, like the topics' keys), so
    # Faust's router hashes them to the same partition as camera.events; values are JSON.
    common: dict[str, Any] = {
        "default": None,
        "key_type": bytes,
        "partitions": settings.topic_partitions,
    }
    return {
        BREAKERS: app.Table(BREAKERS, help="Circuit breaker per camera_id", **common),
        CAMERA_HEALTH: app.Table(CAMERA_HEALTH, help="Health per camera_id", **common),
    }


@contextlib.contextmanager
def writing_for(event: Any | None) -> Iterator[None]:
    """Route table writes to ``event``'s partition (default: the event being iterated).

    Faust picks the changelog partition and the local store partition of a write from the
    *current* event. After ``stream.take_events(...)`` that is the last event of the batch,
    which may belong to another partition than the camera being written; passing the camera's
    own event here keeps the write in the right partition.
    """
    if event is None:
        yield
        return
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class CameraTables:
    """Typed reads and writes of the two tables."""

    def __init__(self, breakers: Any, health: Any) -> None:
        self.breakers = breakers
        self.health = health

    @classmethod
    def of(cls, by_name: dict[str, Any]) -> CameraTables:
        """The tables declared by :func:`declare_resilience_tables` (``Tables.by_name``)."""
        return cls(by_name[BREAKERS], by_name[CAMERA_HEALTH])

    def breaker(self, camera_id: str) -> BreakerState:
        data = self.breakers.get(camera_id.encode())
        return BreakerState() if data is None else breaker_from_dict(data)

    def camera_health(self, camera_id: str) -> HealthState:
        data = self.health.get(camera_id.encode())
        return HealthState(camera_id) if data is None else health_from_dict(data)

    def health_items(self) -> Iterator[tuple[str, HealthState]]:
        """This worker's cameras (its active partitions) and their health."""
        for key, data in list(self.health.items()):
            yield bytes(key).decode(), health_from_dict(data)

    def breaker_items(self) -> Iterator[tuple[str, BreakerState]]:
        """This worker's camera breakers."""
        for key, data in list(self.breakers.items()):
            yield bytes(key).decode(), breaker_from_dict(data)

    def put_breaker(self, camera_id: str, state: BreakerState, event: Any = None) -> None:
        """Write the breaker state (to ``event``'s partition when given)."""
        with writing_for(event):
            self.breakers[camera_id.encode()] = breaker_to_dict(state)

    def put(
        self, camera_id: str, update: CameraUpdate, before: BreakerState | None, event: Any = None
    ) -> None:
        """Write both states (the breaker only when it changed)."""
        with writing_for(event):
            if update.breaker != before:
                self.breakers[camera_id.encode()] = breaker_to_dict(update.breaker)
            self.health[camera_id.encode()] = health_to_dict(update.health)
