"""The health store interface and the ``cameras`` row every adapter writes.

A store takes a batch of :class:`~streams.resilience.health.HealthSnapshot` (at most one per
camera) and upserts the ``public.cameras`` rows: ``online``, ``last_seen``, ``updated_at`` and
``metadata`` with the seed service's keys (``frames_processed``, ``errors_count``,
``avg_latency_ms``, ``circuit_breaker_state``, ``updated_at``) plus ``p95_latency_ms`` and
``fps``. Errors are :mod:`streams.store.exceptions`: retriable or not, decided by the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from streams.resilience.health import HealthSnapshot


class HealthStore(Protocol):
    """Where camera health is published (the platform's ``cameras`` table)."""

    async def upsert_cameras(self, snapshots: Sequence[HealthSnapshot]) -> None:
        """Write one row per snapshot; raise a StoreError subclass on failure."""
        ...

    async def close(self) -> None:
        """Release connections; the store may be used again afterwards (it reconnects)."""
        ...


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class CameraRow:
    """One ``public.cameras`` row as the stores write it."""

    id: str
    org_id: str | None
    online: bool
    last_seen: datetime | None
    metadata: dict[str, Any]
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The row as JSON (PostgREST); ``org_id`` is left out, the platform owns it."""
        return {
            "id": self.id,
            "online": self.online,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "metadata": self.metadata,
            "updated_at": self.updated_at.isoformat(),
        }


def camera_row(snapshot: HealthSnapshot) -> CameraRow:
    """The ``cameras`` row for ``snapshot`` (``updated_at`` = when it was observed)."""
    updated_at = _utc(snapshot.observed_at)
    metadata: dict[str, Any] = {
        "frames_processed": snapshot.frames_processed,
        "errors_count": snapshot.errors_count,
        "avg_latency_ms": round(snapshot.avg_latency_ms, 3),
        "p95_latency_ms": round(snapshot.p95_latency_ms, 3),
        "fps": round(snapshot.fps, 3),
        "circuit_breaker_state": snapshot.circuit_breaker_state.value,
        "updated_at": updated_at.isoformat(),
    }
    return CameraRow(
        id=snapshot.camera_id,
        org_id=snapshot.org_id,
        online=snapshot.online,
        last_seen=None if snapshot.last_seen is None else _utc(snapshot.last_seen),
        metadata=metadata,
        updated_at=updated_at,
    )


def latest_per_camera(snapshots: Iterable[HealthSnapshot]) -> list[HealthSnapshot]:
    """One snapshot per camera, the most recently observed (input order otherwise kept)."""
    latest: dict[str, HealthSnapshot] = {}
    for snap in snapshots:
        seen = latest.get(snap.camera_id)
        if seen is None or snap.observed_at >= seen.observed_at:
            latest[snap.camera_id] = snap
    return list(latest.values())
