"""Breaker and health state to and from plain JSON-able dicts (the Faust table values).

The dict forms are stable: keys are only ever added (with defaults on read), so a worker can
read a changelog written by an older one. ``from_dict`` ignores unknown keys for the same
reason in the other direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.resilience.breaker import BreakerState, State
from streams.resilience.health import HealthState


def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def breaker_to_dict(state: BreakerState) -> dict[str, Any]:
    """A JSON-able dict of ``state``."""
    return {
        "state": state.state.value,
        "consecutive_failures": state.consecutive_failures,
        "window": "".join("1" if failed else "0" for failed in state.window),
        "trips": state.trips,
        "opened_at": state.opened_at,
        "retry_at": state.retry_at,
        "half_open_successes": state.half_open_successes,
        "probes_in_flight": state.probes_in_flight,
        "probe_started_at": state.probe_started_at,
        "forced": state.forced,
        "changed_at": state.changed_at,
        "successes": state.successes,
        "failures": state.failures,
        "rejected": dict(state.rejected),
    }


def breaker_from_dict(data: Mapping[str, Any]) -> BreakerState:
    """The state written by :func:`breaker_to_dict` (missing keys take their defaults)."""
    rejected = data.get("rejected") or {}
    return BreakerState(
        state=State(data.get("state", State.CLOSED.value)),
        consecutive_failures=int(data.get("consecutive_failures", 0)),
        window=tuple(ch == "1" for ch in str(data.get("window", ""))),
        trips=int(data.get("trips", 0)),
        opened_at=_opt_float(data.get("opened_at")),
        retry_at=_opt_float(data.get("retry_at")),
        half_open_successes=int(data.get("half_open_successes", 0)),
        probes_in_flight=int(data.get("probes_in_flight", 0)),
        probe_started_at=_opt_float(data.get("probe_started_at")),
        forced=bool(data.get("forced", False)),
        changed_at=_opt_float(data.get("changed_at")),
        successes=int(data.get("successes", 0)),
        failures=int(data.get("failures", 0)),
        rejected=tuple(sorted((str(k), int(v)) for k, v in dict(rejected).items())),
    )


def health_to_dict(state: HealthState) -> dict[str, Any]:
    """A JSON-able dict of ``state`` (histogram and fps buckets stored sparsely)."""
    return {
        "camera_id": state.camera_id,
        "org_id": state.org_id,
        "frames_processed": state.frames_processed,
        "events": state.events,
        "errors_count": state.errors_count,
        "avg_latency_ms": state.avg_latency_ms,
        "latency_samples": state.latency_samples,
        "histogram": [list(pair) for pair in state.histogram],
        "fps_buckets": [list(pair) for pair in state.fps_buckets],
        "first_seen": state.first_seen,
        "last_seen": state.last_seen,
        "last_frame_at": state.last_frame_at,
        "online": state.online,
        "frames_toward_online": state.frames_toward_online,
        "breaker_state": state.breaker_state.value,
        "version": state.version,
    }


def _pairs(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple((int(a), int(b)) for a, b in value)


def health_from_dict(data: Mapping[str, Any]) -> HealthState:
    """The state written by :func:`health_to_dict` (missing keys take their defaults)."""
    return HealthState(
        camera_id=str(data["camera_id"]),
        org_id=data.get("org_id"),
        frames_processed=int(data.get("frames_processed", 0)),
        events=int(data.get("events", 0)),
        errors_count=int(data.get("errors_count", 0)),
        avg_latency_ms=_opt_float(data.get("avg_latency_ms")),
        latency_samples=int(data.get("latency_samples", 0)),
        histogram=_pairs(data.get("histogram")),
        fps_buckets=_pairs(data.get("fps_buckets")),
        first_seen=_opt_float(data.get("first_seen")),
        last_seen=_opt_float(data.get("last_seen")),
        last_frame_at=_opt_float(data.get("last_frame_at")),
        online=bool(data.get("online", False)),
        frames_toward_online=int(data.get("frames_toward_online", 0)),
        breaker_state=State(data.get("breaker_state", State.CLOSED.value)),
        version=int(data.get("version", 0)),
    )
