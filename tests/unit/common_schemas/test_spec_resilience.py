"""The specification's resilience snippets, run verbatim against common_schemas.

The Supabase client is supabase-py's own ``create_client`` pointed at a local server speaking
PostgREST (tests/unit/common_schemas/postgrest_server.py). Lines marked ``# verbatim`` are the
specification's text as written.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from supabase import Client, create_client

from common_schemas import (
    AntitheftPolicy,
    CameraHealthMonitor,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    PolicyManager,
    QueueConfig,
    ResilienceManager,
    ResilienceQueue,
    install_exception_handlers,
)
from tests.support.policy import supabase_row
from tests.support.waiting import eventually
from tests.unit.common_schemas.postgrest_server import KEY, FakeSupabase, fake_supabase


@pytest.fixture(autouse=True)
def spec_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No broker configured (health goes to Supabase); the disk spool under tmp_path."""
    for name in ("CAMGUARD_BROKER", "CAMGUARD_PG_DSN", "CAMGUARD_SUPABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAMGUARD_SPOOL_DIR", str(tmp_path / "spool"))
    return tmp_path / "spool"


@pytest.fixture
async def supabase() -> AsyncIterator[FakeSupabase]:
    async with fake_supabase() as fake:
        yield fake


@pytest.fixture
def supabase_client(supabase: FakeSupabase) -> Client:
    return create_client(supabase.url, KEY)


# --- ResilienceQueue -------------------------------------------------------------------------


async def test_queue_snippet_returns_the_items_as_given(spec_env: Path) -> None:
    event_data = {"camera_id": "cam_1", "type": "shelf_out", "score": 0.93, "zones": ["a1"]}
    queue = ResilienceQueue("events", QueueConfig(max_queue_size=1000, max_queue_seconds=300.0, batch_size=10))  # verbatim  # noqa: E501  # fmt: skip
    await queue.enqueue(event_data, priority=1)  # verbatim
    await queue.enqueue(b"\x00raw frame bytes", priority=1)
    batch = await queue.dequeue_batch()  # verbatim
    assert batch == [event_data, b"\x00raw frame bytes"]
    assert isinstance(batch[0], dict)
    assert isinstance(batch[1], bytes)
    await queue.close()


async def test_queue_never_stalls_without_acks_and_spills_to_the_default_dir(
    spec_env: Path,
) -> None:
    queue = ResilienceQueue("events", QueueConfig(max_queue_size=1000, max_queue_seconds=300.0, batch_size=10))  # verbatim  # noqa: E501  # fmt: skip
    for round_ in range(3):  # 3 x 1000 items dequeued and never acknowledged
        for i in range(1000):
            assert await queue.enqueue({"i": i, "round": round_}, priority=1)
        drained = 0
        while batch := await queue.dequeue_batch():
            drained += len(batch)
        assert drained == 1000
    stats = queue.get_stats()
    assert (stats["in_flight"], stats["total_queued"], stats["acked_total"]) == (0, 0, 3000)

    for i in range(1005):  # the disk takes what memory cannot hold
        await queue.enqueue({"i": i}, priority=2)
    await queue.enqueue({"urgent": True}, priority=0)
    stats = queue.get_stats()
    assert (stats["memory_queue_size"], stats["disk_queue_size"]) == (1000, 6)
    assert stats["durable"]
    assert (spec_env / "events").is_dir()
    assert await queue.dequeue_batch() == [{"urgent": True}] + [{"i": i} for i in range(9)]
    await queue.close()

    reopened = ResilienceQueue("events", QueueConfig(max_queue_size=1000, max_queue_seconds=300.0, batch_size=10))  # noqa: E501  # fmt: skip
    assert len(await reopened.dequeue_batch(2000)) == 1005 - 9  # spilled at close, replayed
    await reopened.close()


# --- CircuitBreaker --------------------------------------------------------------------------


def test_circuit_breaker_snippet_trips_after_the_threshold() -> None:
    breaker = CircuitBreaker("camera_1", CircuitBreakerConfig(failure_threshold=5, recovery_timeout=60.0, success_threshold=3))  # verbatim  # noqa: E501  # fmt: skip
    for _ in range(4):
        assert breaker.can_execute()  # verbatim
        breaker.record_failure()  # verbatim
    assert breaker.can_execute()
    breaker.record_success()  # verbatim
    for _ in range(5):
        assert breaker.can_execute()
        breaker.record_failure()
    assert not breaker.can_execute()
    assert breaker.state.value == "OPEN"
    retry_after = breaker.retry_after
    assert retry_after is not None
    assert 30.0 < retry_after <= 90.0  # about recovery_timeout, not a full-jitter 0.4 s


def test_circuit_breaker_recovers_after_success_threshold_probes() -> None:
    now = [1000.0]
    config = CircuitBreakerConfig(failure_threshold=5, recovery_timeout=60.0, success_threshold=3)
    assert (config.recovery_timeout, config.recovery_timeout_s) == (60.0, 60.0)
    breaker = CircuitBreaker("camera_1", config, clock=lambda: now[0])
    for _ in range(5):
        breaker.record_failure()
    assert not breaker.can_execute()
    now[0] += 2 * 60.0
    for _ in range(3):
        assert breaker.can_execute()
        breaker.record_success()
    assert breaker.state.value == "CLOSED"


# --- CameraHealthMonitor ---------------------------------------------------------------------


async def test_health_monitor_snippet_writes_the_cameras_row_through_supabase(
    supabase: FakeSupabase, supabase_client: Client
) -> None:
    supabase.register("cam_1", location="aisle 4")
    monitor = CameraHealthMonitor(supabase_client)  # verbatim
    monitor.update_camera_stats("cam_1", {'frames_processed': 100, 'avg_latency_ms': 45, 'errors_count': 0})  # verbatim  # noqa: E501  # fmt: skip
    await monitor.start_monitoring()  # verbatim
    await eventually(lambda: supabase.cameras["cam_1"]["online"])
    assert monitor.interval_s == 30.0
    monitor.update_camera_stats("cam_1", {"frames_processed": 150, "errors_count": 2})
    await monitor.stop_monitoring()  # verbatim
    row = supabase.cameras["cam_1"]
    assert row["metadata"] == {
        "location": "aisle 4",
        "frames_processed": 150,
        "errors_count": 2,
        "avg_latency_ms": 45.0,
        "p95_latency_ms": 45.0,
        "fps": 0.0,
        "circuit_breaker_state": "closed",
    }
    assert row["last_seen"] is not None
    assert monitor.publisher is not None
    assert monitor.publisher.stats.published >= 2


async def test_health_monitor_start_returns_at_once_and_publishes_every_interval(
    supabase: FakeSupabase, supabase_client: Client
) -> None:
    monitor = CameraHealthMonitor(supabase_client, interval_s=0.05)
    monitor.update_camera_stats("cam_unknown", {"frames_processed": 1})
    await monitor.start_monitoring()
    await eventually(lambda: len(supabase.health_calls) >= 3)
    await monitor.stop_monitoring()
    assert "cam_unknown" not in supabase.cameras  # an UPDATE: no row invented


# --- PolicyManager ---------------------------------------------------------------------------


async def test_policy_manager_snippet_resolves_camera_over_org_over_global(
    supabase: FakeSupabase, supabase_client: Client
) -> None:
    def row(config: dict[str, Any], **scope: str) -> dict[str, Any]:
        return supabase_row(service_name="antitheft", policy_type="antitheft", config=config, **scope)  # noqa: E501  # fmt: skip

    supabase.policies = [
        row({"shelf_out_delta": 0.5, "alert_cooldown_s": 120.0, "zones": ["all"]}),
        row({"shelf_out_delta": 0.4, "confidence_threshold": 0.8}, org_id="org_123"),
        row({"shelf_out_delta": 0.3}, org_id="org_123", camera_id="cam_1"),
        row({"shelf_out_delta": 0.1}, org_id="org_999"),
    ]
    policy_manager = PolicyManager("antitheft", supabase_client)  # verbatim
    await policy_manager.start_hot_reload()  # verbatim
    policy = await policy_manager.get_policy("antitheft", org_id="org_123", camera_id="cam_1")  # verbatim  # noqa: E501  # fmt: skip
    assert isinstance(policy, AntitheftPolicy)
    assert policy == AntitheftPolicy(
        shelf_out_delta=0.3, alert_cooldown_s=120.0, zones=["all"], confidence_threshold=0.8
    )
    other = await policy_manager.get_policy("antitheft", org_id="org_123", camera_id="cam_2")
    assert other.shelf_out_delta == 0.4
    reads = supabase.policy_reads
    await policy_manager.get_policy("antitheft", org_id="org_123", camera_id="cam_1")
    assert supabase.policy_reads == reads  # cached (TTL 60 s)
    started = time.monotonic()
    await policy_manager.stop_hot_reload()  # verbatim
    assert time.monotonic() - started < 1.0


# --- ResilienceManager in a FastAPI app ------------------------------------------------------


async def test_resilience_manager_snippet_in_a_fastapi_app(
    supabase: FakeSupabase, supabase_client: Client
) -> None:
    resilience_manager = ResilienceManager("service_name", supabase_client)  # verbatim
    calls: list[tuple[str, str]] = []
    failing = {"cam_2"}

    async def process_camera_frame(request: Request, camera_id: str) -> dict[str, Any]:
        calls.append((request.url.path, camera_id))
        if camera_id in failing:
            raise HTTPException(status_code=502, detail="detector unavailable")
        return {"camera_id": camera_id, "faces": 0}

    app = FastAPI()
    install_exception_handlers(app)

    @app.post("/cameras/{camera_id}/frames")
    async def frames(camera_id: str, request: Request) -> dict[str, Any]:
        return await resilience_manager.execute_with_circuit_breaker(f"camera_{camera_id}", process_camera_frame, request, camera_id=camera_id)  # verbatim  # noqa: E501  # fmt: skip

    await resilience_manager.start_all()  # verbatim
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        ok = await http.post("/cameras/cam_1/frames")
        assert (ok.status_code, ok.json()) == (200, {"camera_id": "cam_1", "faces": 0})
        for _ in range(5):
            assert (await http.post("/cameras/cam_2/frames")).status_code == 502
        assert len(calls) == 6
        refused = await http.post("/cameras/cam_2/frames")
        assert refused.status_code == 503
        assert 30 <= int(refused.headers["Retry-After"]) <= 90
        assert refused.json()["error"] == "open"
        assert len(calls) == 6  # refused without calling process_camera_frame
        assert (await http.post("/cameras/cam_1/frames")).status_code == 200
    assert resilience_manager.breakers["camera_cam_2"].state.value == "OPEN"
    with pytest.raises(CircuitOpenError):
        await resilience_manager.execute_with_circuit_breaker(
            "camera_cam_2", process_camera_frame, None, camera_id="cam_2"
        )
    await resilience_manager.stop_all()  # verbatim
