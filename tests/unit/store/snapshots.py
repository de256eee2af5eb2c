"""Helpers for store tests: health snapshots and a deadline poll."""

from __future__ import annotations

from streams.resilience.breaker import State
from streams.resilience.health import HealthSnapshot

T0 = 1_700_000_000.0


def snap(camera_id: str, observed_at: float = T0, frames: int = 1, **kw: object) -> HealthSnapshot:
    fields: dict[str, object] = {
        "camera_id": camera_id,
        "org_id": None,
        "online": True,
        "last_seen": observed_at - 1,
        "frames_processed": frames,
        "errors_count": 0,
        "avg_latency_ms": 12.5,
        "p95_latency_ms": 30.0,
        "fps": 5.0,
        "circuit_breaker_state": State.CLOSED,
        "observed_at": observed_at,
    }
    fields.update(kw)
    return HealthSnapshot(**fields)  # type: ignore[arg-type]
