"""The Faust tables ``breakers`` and ``camera_health`` (adapter; the logic is pure elsewhere).

Both are keyed by camera_id (UTF-8 text) and hold JSON dicts written by
:mod:`streams.resilience.serde`. They are changelog-backed (``camguard-breakers-changelog``,
``camguard-camera_health-changelog``) with ``topic_partitions`` partitions, so they are
co-partitioned with ``camera.frames`` and ``camera.events``: a table may only be written while
an agent handles a message of one of those topics (the changelog record goes to that message's
partition). Standby replicas come from ``table_standby_replicas``.
"""

from __future__ import annotations

from typing import Any

import faust

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
    common: dict[str, Any] = {
        "default": None,
        "key_type": str,
        "key_serializer": "raw",
        "value_serializer": "json",
        "partitions": settings.topic_partitions,
    }
    return {
        BREAKERS: app.Table(BREAKERS, help="Circuit breaker per camera_id", **common),
        CAMERA_HEALTH: app.Table(CAMERA_HEALTH, help="Health per camera_id", **common),
    }


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
        data = self.breakers.get(camera_id)
        return BreakerState() if data is None else breaker_from_dict(data)

    def camera_health(self, camera_id: str) -> HealthState:
        data = self.health.get(camera_id)
        return HealthState(camera_id) if data is None else health_from_dict(data)

    def put_breaker(self, camera_id: str, state: BreakerState) -> None:
        self.breakers[camera_id] = breaker_to_dict(state)

    def put(self, camera_id: str, update: CameraUpdate, before: BreakerState | None) -> None:
        """Write both states (the breaker only when it changed)."""
        if update.breaker != before:
            self.put_breaker(camera_id, update.breaker)
        self.health[camera_id] = health_to_dict(update.health)
