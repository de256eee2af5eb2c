"""The JSON views of cameras and breakers, and their place in the endpoint registry."""

from __future__ import annotations

import random

from streams.contract.endpoints import endpoints
from streams.contract.records import EventKind
from streams.contract.worker_http import BreakerView, CameraList, CameraView
from streams.resilience.breaker import BreakerState, CircuitBreakerConfig, Failure, step
from streams.resilience.exceptions import CircuitOpenError
from streams.resilience.health import HealthConfig, HealthState, Observation, observe
from streams.web.cameras import breaker_view, camera_view

T0 = 1_700_000_000.0


def test_camera_view_reads_health_and_breaker_at_now() -> None:
    config = CircuitBreakerConfig(jitter_ratio=0)
    breaker = BreakerState()
    for i in range(5):
        breaker, _ = step(breaker, Failure(), T0 + i, config, random.Random(0))
    health = HealthState("cam-1")
    for i in range(3):
        health = observe(health, Observation(EventKind.FRAME_OK, T0 + i, 8.0), HealthConfig())
    slow = HealthConfig(offline_after_s=100)
    view = camera_view(health, breaker, T0 + 70, slow)
    assert isinstance(view, CameraView)
    assert view.online
    assert view.breaker.state == "OPEN"
    assert view.breaker.effective_state == "HALF_OPEN", "past its retry time"
    assert view.breaker.retry_at is not None
    assert view.breaker.retry_at.timestamp() == T0 + 64
    assert view.frames_processed == 3
    assert not camera_view(health, breaker, T0 + 200, slow).online
    payload = view.model_dump(mode="json")
    assert payload["last_seen"].startswith("2023-11-14T22:13:22")


def test_breaker_view_counts_refusals_by_reason() -> None:
    state = BreakerState(rejected=(("open", 4), ("probe_limit", 1)))
    assert breaker_view("cam-1", state, T0).rejected == {"open": 4, "probe_limit": 1}
    assert BreakerView.model_json_schema()["properties"]["state"]["enum"] == [
        "CLOSED",
        "OPEN",
        "HALF_OPEN",
    ]


def test_the_three_endpoints_are_described() -> None:
    described = {(e.method, e.path): e for e in endpoints()}
    assert described[("GET", "/api/cameras")].response_model is CameraList
    assert described[("GET", "/api/cameras/{camera_id}")].errors[404]
    assert ("GET", "/api/breakers") in described


def test_circuit_open_maps_to_503_with_retry_after() -> None:
    error = CircuitOpenError("store", "open", 12.2)
    assert (error.status, error.retry_after_header) == (503, "13")
