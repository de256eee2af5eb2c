"""An in-memory health store: the fake for unit tests, with a switch to play an outage.

It follows ``camguard_publish_health``: rows are only updated, ``metadata`` is merged, an older
snapshot than the row's changes nothing, unknown cameras are reported. ``cameras=None`` (the
default) plays a platform that registered every camera: a row appears on its first update.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.resilience.health import HealthSnapshot
from streams.store.base import CameraUpdate, health_metadata, latest_per_camera
from streams.store.exceptions import StoreError, StoreUnavailableError


@dataclass
class MemoryCamera:
    """One ``cameras`` row as the fake keeps it."""

    id: str
    online: bool = False
    last_seen: float | None = None
    observed_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class MemoryHealthStore:
    """Keeps one row per camera; ``down`` or ``failures`` make calls fail."""

    def __init__(self, cameras: Iterable[str] | None = None) -> None:
        self.register_all = cameras is None
        self.rows: dict[str, MemoryCamera] = {c: MemoryCamera(c) for c in cameras or ()}
        self.calls = 0
        self.batches: list[list[str]] = []
        self.down = False
        self.failures: list[StoreError] = []
        """Errors to raise on the next calls, first one first."""

    async def update_cameras(self, snapshots: Sequence[HealthSnapshot]) -> CameraUpdate:
        self.calls += 1
        if self.down:
            raise StoreUnavailableError("memory store is down")
        if self.failures:
            raise self.failures.pop(0)
        batch = latest_per_camera(snapshots)
        self.batches.append([s.camera_id for s in batch])
        updated: list[str] = []
        stale: list[str] = []
        unknown: list[str] = []
        for snap in batch:
            row = self.rows.get(snap.camera_id)
            if row is None and self.register_all:
                row = self.rows[snap.camera_id] = MemoryCamera(snap.camera_id)
            if row is None:
                unknown.append(snap.camera_id)
            elif row.observed_at is not None and row.observed_at > snap.observed_at:
                stale.append(snap.camera_id)
            else:
                row.online = snap.online
                if snap.last_seen is not None:
                    row.last_seen = max(row.last_seen or snap.last_seen, snap.last_seen)
                row.observed_at = snap.observed_at
                row.metadata = {**row.metadata, **health_metadata(snap)}
                updated.append(snap.camera_id)
        return CameraUpdate(tuple(sorted(updated)), tuple(sorted(stale)), tuple(sorted(unknown)))

    async def close(self) -> None:
        return None
