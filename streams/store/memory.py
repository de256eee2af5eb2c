"""An in-memory health store: the fake for unit tests, with a switch to play an outage."""

from __future__ import annotations

from collections.abc import Sequence

from streams.resilience.health import HealthSnapshot
from streams.store.base import CameraRow, camera_row, latest_per_camera
from streams.store.exceptions import StoreError, StoreUnavailableError


class MemoryHealthStore:
    """Keeps the latest row per camera; ``down`` or ``failures`` make calls fail."""

    def __init__(self) -> None:
        self.rows: dict[str, CameraRow] = {}
        self.calls = 0
        self.batches: list[list[str]] = []
        self.down = False
        self.failures: list[StoreError] = []
        """Errors to raise on the next calls, first one first."""

    async def upsert_cameras(self, snapshots: Sequence[HealthSnapshot]) -> None:
        self.calls += 1
        if self.down:
            raise StoreUnavailableError("memory store is down")
        if self.failures:
            raise self.failures.pop(0)
        batch = latest_per_camera(snapshots)
        self.batches.append([s.camera_id for s in batch])
        for snap in batch:
            row = camera_row(snap)
            current = self.rows.get(row.id)
            if current is None or current.updated_at <= row.updated_at:
                self.rows[row.id] = row

    async def close(self) -> None:
        return None
