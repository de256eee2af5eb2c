"""The Faust tables ``breakers`` and ``camera_health`` (adapter; the logic is pure elsewhere).

Both are keyed by camera_id (its UTF-8 bytes, as on the topics) and hold JSON dicts written by
:mod:`streams.resilience.serde`, plus ``source_offsets``: the offset, per source topic, of the
last message folded into that row. They are changelog-backed (``<app_id>-breakers-changelog``,
``<app_id>-camera_health-changelog``) with ``topic_partitions`` partitions, co-partitioned with
``camera.frames`` and ``camera.events``; standby replicas come from ``table_standby_replicas``.

Writes do not go through ``table[key] = value``. Faust sends those changelog records through
a background buffer, and with ``exactly_once`` it commits a transaction without waiting for
that buffer: a worker killed right after a commit loses table updates whose source offsets
were already committed. :meth:`CameraTables.store_many` instead updates the local store and
awaits the changelog sends (to each handled message's partition), so the records are in the
producer before the messages are acknowledged. A record that lands in a transaction committed
with an older offset (or, with ``at_least_once``, any replay after a crash) is recognised by
``source_offsets`` and skipped (:func:`~streams.resilience.camera.replay_window`).
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Iterator, Mapping
from typing import Any

import faust
from faust.streams import current_event

from streams.faust_edge.table_internals import write_local
from streams.resilience.breaker import BreakerState
from streams.resilience.camera import CameraRecord, CameraUpdate, SourcePosition
from streams.resilience.health import HealthState
from streams.resilience.serde import (
    breaker_from_dict,
    breaker_to_dict,
    health_from_dict,
    health_to_dict,
)
from streams.settings import Settings

StoreRow = tuple[str, CameraUpdate, "CameraRecord", Any, SourcePosition | None]
"""camera_id, its new states, its rows as loaded, the message's event, its position."""

BREAKERS = "breakers"
CAMERA_HEALTH = "camera_health"
OFFSETS = "source_offsets"


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


def _offsets(data: Mapping[str, Any] | None) -> dict[str, int]:
    found = (data or {}).get(OFFSETS) or {}
    return {str(topic): int(offset) for topic, offset in dict(found).items()}


def _marked(offsets: Mapping[str, int], position: SourcePosition | None) -> dict[str, int]:
    marked = dict(offsets)
    if position is not None:
        marked[position.topic] = position.offset
    return marked


class CameraTables:
    """Typed reads and changelog-safe writes of the two tables."""

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

    def load(self, camera_id: str) -> CameraRecord:
        """Both rows of ``camera_id`` (fresh state for a camera never seen)."""
        key = camera_id.encode()
        breaker, health = self.breakers.get(key), self.health.get(key)
        return CameraRecord(
            BreakerState() if breaker is None else breaker_from_dict(breaker),
            HealthState(camera_id) if health is None else health_from_dict(health),
            _offsets(breaker),
            _offsets(health),
        )

    def health_items(self) -> Iterator[tuple[str, HealthState]]:
        """This worker's cameras (its active partitions) and their health."""
        for key, data in list(self.health.items()):
            yield bytes(key).decode(), health_from_dict(data)

    def breaker_items(self) -> Iterator[tuple[str, BreakerState]]:
        """This worker's camera breakers."""
        for key, data in list(self.breakers.items()):
            yield bytes(key).decode(), breaker_from_dict(data)

    async def store_breaker(
        self, camera_id: str, state: BreakerState, before: CameraRecord, event: Any
    ) -> None:
        """Write the breaker row only (its source offsets unchanged)."""
        value = {**breaker_to_dict(state), OFFSETS: dict(before.breaker_offsets)}
        await self._write(self.breakers, camera_id.encode(), value, event)

    async def store(
        self,
        camera_id: str,
        update: CameraUpdate,
        before: CameraRecord,
        event: Any,
        position: SourcePosition | None = None,
    ) -> None:
        """Write both rows for the message ``event`` (at ``position`` in its topic)."""
        await self.store_many([(camera_id, update, before, event, position)])

    async def store_many(self, rows: Iterable[StoreRow]) -> None:
        """Write both rows of each camera in ``rows`` (one entry per camera at most).

        Every local write happens first; then all changelog records are handed to the
        producer together and awaited together, so a batch of cameras costs one wait instead
        of two per camera. Each record is still in the producer before this returns, that is
        before the messages are acknowledged.
        """
        sends: list[Coroutine[Any, Any, Any]] = []
        try:
            for camera_id, update, before, event, position in rows:
                key = camera_id.encode()
                breaker = {
                    **breaker_to_dict(update.breaker),
                    OFFSETS: _marked(before.breaker_offsets, position),
                }
                health = {
                    **health_to_dict(update.health),
                    OFFSETS: _marked(before.health_offsets, position),
                }
                sends.append(self._write_local(self.breakers, key, breaker, event))
                sends.append(self._write_local(self.health, key, health, event))
        except BaseException:
            for send in sends:
                send.close()  # never started: nothing was handed to the producer
            raise
        # In order, one at a time: each send only appends to aiokafka's open batch of its
        # partition. Gathered, thousands of them wait on that batch's drain together (3 000
        # sends: 2 515/s gathered against 25 340/s in order, bench/RESULTS.md).
        remaining = iter(sends)
        try:
            for send in remaining:
                await send
        finally:
            for send in remaining:
                send.close()  # after a failed send: never started, nothing handed over

    async def _write(self, table: Any, key: bytes, value: dict[str, Any], event: Any) -> None:
        await self._write_local(table, key, value, event)

    def _write_local(
        self, table: Any, key: bytes, value: dict[str, Any], event: Any
    ) -> Coroutine[Any, Any, Any]:
        """Write the local store now; return the changelog send (not yet awaited)."""
        event = event if event is not None else current_event()
        if event is None:
            raise RuntimeError("camera tables are written while an agent handles a message")
        return write_local(table, key, value, event)
