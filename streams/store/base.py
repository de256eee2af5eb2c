"""The health store interface, the snapshot every adapter sends and what the store answers.

Health is written the way the platform specification does it: an UPDATE of the cameras the
platform registered (``online``, ``last_seen`` and ``metadata``), never an insert. Every store
goes through one SQL function of the migrations, ``public.camguard_publish_health(jsonb)``
(infra/supabase/migrations/0003_supabase_exact.sql), which merges ``metadata`` (keys the platform
keeps there survive), ignores a snapshot older than the one the row holds, and answers which
cameras were updated, which were stale and which are unknown. :func:`health_payload` builds one
element of its argument; :meth:`CameraUpdate.from_json` reads its answer. Errors are
:mod:`streams.store.exceptions`: retriable or not, decided by the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from streams.resilience.health import HealthSnapshot
from streams.store.exceptions import StoreRejectedError

PUBLISH_FUNCTION = "camguard_publish_health"
"""The SQL function (schema ``public``) every store calls, with one argument ``snapshots``."""
MISSING_FUNCTION = (
    f"public.{PUBLISH_FUNCTION}(jsonb) is missing: apply infra/supabase/migrations "
    "(0003_supabase_exact.sql) to the database"
)


@dataclass(frozen=True)
class CameraUpdate:
    """What one publish did, per camera id (each id in exactly one of the three)."""

    updated: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    """The row holds a newer snapshot: nothing changed."""
    unknown: tuple[str, ...] = ()
    """No ``cameras`` row with that id: nothing was written (the platform registers cameras)."""

    @classmethod
    def from_json(cls, data: object) -> CameraUpdate:
        """Read the function's answer; a malformed one means the migration is not the expected
        one, so it is refused (not retried)."""
        if not isinstance(data, dict):
            raise StoreRejectedError(f"{PUBLISH_FUNCTION} answered {data!r}: apply migration 0003")
        parts: list[tuple[str, ...]] = []
        for name in ("updated", "stale", "unknown"):
            ids = data.get(name, [])
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise StoreRejectedError(f"{PUBLISH_FUNCTION} answered {name}={ids!r}")
            parts.append(tuple(ids))
        return cls(*parts)


class HealthStore(Protocol):
    """Where camera health is published (the platform's ``cameras`` table)."""

    async def update_cameras(self, snapshots: Sequence[HealthSnapshot]) -> CameraUpdate:
        """Update the rows of the cameras in ``snapshots``; raise a StoreError on failure."""
        ...

    async def close(self) -> None:
        """Release connections; the store may be used again afterwards (it reconnects)."""
        ...


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def health_metadata(snapshot: HealthSnapshot) -> dict[str, Any]:
    """The ``cameras.metadata`` keys camguard writes: the specification's four (breaker state in
    its lowercase: ``closed``, ``open``, ``half_open``) plus ``p95_latency_ms`` and ``fps``."""
    return {
        "frames_processed": snapshot.frames_processed,
        "errors_count": snapshot.errors_count,
        "avg_latency_ms": round(snapshot.avg_latency_ms, 3),
        "p95_latency_ms": round(snapshot.p95_latency_ms, 3),
        "fps": round(snapshot.fps, 3),
        "circuit_breaker_state": snapshot.circuit_breaker_state.value.lower(),
    }


def health_payload(snapshot: HealthSnapshot) -> dict[str, Any]:
    """One element of the ``snapshots`` argument of ``camguard_publish_health`` (JSON).

    ``observed_at`` orders snapshots (the function stamps it into ``metadata``); ``org_id`` is
    not sent: the platform owns which organisation a camera belongs to.
    """
    return {
        "id": snapshot.camera_id,
        "online": snapshot.online,
        "last_seen": None if snapshot.last_seen is None else _iso(snapshot.last_seen),
        "observed_at": _iso(snapshot.observed_at),
        "metadata": health_metadata(snapshot),
    }


def latest_per_camera(snapshots: Iterable[HealthSnapshot]) -> list[HealthSnapshot]:
    """One snapshot per camera, the most recently observed (input order otherwise kept)."""
    latest: dict[str, HealthSnapshot] = {}
    for snap in snapshots:
        seen = latest.get(snap.camera_id)
        if seen is None or snap.observed_at >= seen.observed_at:
            latest[snap.camera_id] = snap
    return list(latest.values())


def publish_argument(snapshots: Sequence[HealthSnapshot]) -> list[dict[str, Any]]:
    """The function's argument for a batch: the newest snapshot per camera."""
    return [health_payload(s) for s in latest_per_camera(snapshots)]
