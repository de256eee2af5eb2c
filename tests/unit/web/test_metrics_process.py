"""/metrics: process and GC series on the worker's and the gateway's, per-camera series capped."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest

from streams.gateway.metrics import GatewaySnapshot, render
from streams.resilience.breaker import BreakerState, State
from streams.resilience.health import HealthConfig, HealthState
from streams.resilience.tables import CameraTables
from streams.spool.producer import ProducerStats
from streams.web.metrics import CameraCollector, register_process_collectors
from tests.unit.gateway.test_gateway_web import PRODUCER, QUEUE

PROCESS = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "python_gc_collections_total",
    "python_gc_objects_collected_total",
    "python_info",
)


def test_worker_registry_has_process_and_gc_series() -> None:
    registry = CollectorRegistry()
    register_process_collectors(registry)
    text = generate_latest(registry).decode()
    for name in PROCESS:
        assert f"\n{name}" in text or text.startswith(name), name


def test_gateway_metrics_have_process_and_gc_series() -> None:
    producer: ProducerStats = PRODUCER
    text = render(lambda: GatewaySnapshot(QUEUE, producer, {})).decode()
    for name in PROCESS:
        assert name in text, name
    assert "camguard_spool_queued" in text


class FakeTables:
    def __init__(self, cameras: dict[str, tuple[HealthState, BreakerState]]) -> None:
        self.cameras = cameras

    def health_items(self) -> Any:
        return ((c, h) for c, (h, _) in self.cameras.items())

    def breaker(self, camera_id: str) -> BreakerState:
        return self.cameras[camera_id][1]


def test_camera_series_are_capped() -> None:
    open_breaker = BreakerState(state=State.OPEN, retry_at=2e9)
    tables = FakeTables(
        {
            "cam-b": (HealthState("cam-b", frames_processed=7, errors_count=2), open_breaker),
            "cam-a": (HealthState("cam-a", frames_processed=3), BreakerState()),
            "cam-c": (HealthState("cam-c"), BreakerState()),
        }
    )
    registry = CollectorRegistry()
    collector = CameraCollector(
        lambda: cast(CameraTables, tables), HealthConfig(), limit=2, clock=lambda: 1e9
    )
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert 'camguard_camera_frames_total{camera_id="cam-a"} 3.0' in text
    assert 'camguard_camera_errors_total{camera_id="cam-b"} 2.0' in text
    assert 'camguard_camera_breaker_state{camera_id="cam-b",state="OPEN"} 1.0' in text
    assert "cam-c" not in text  # over the cap
    assert "camguard_camera_series_omitted 1.0" in text


def test_grafana_example_uses_only_exposed_series() -> None:
    import json
    import re

    from streams.devstack import REPO_ROOT

    board = json.loads((REPO_ROOT / "infra" / "grafana" / "camguard.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", ())]
    used = {m for e in exprs for m in re.findall(r"\b((?:camguard|process|python)_\w+)\b", e)}
    registry = CollectorRegistry()
    register_process_collectors(registry)
    tables = FakeTables({"cam-a": (HealthState("cam-a"), BreakerState())})
    registry.register(CameraCollector(lambda: cast(CameraTables, tables), HealthConfig(), limit=1))
    exposed = generate_latest(registry).decode()
    exposed += render(lambda: GatewaySnapshot(QUEUE, PRODUCER, {})).decode()
    exposed += "camguard_events_total camguard_gauge "  # the worker's counters and gauges
    exposed += "camguard_spool_dropped_total "  # a family without samples when nothing dropped
    missing = sorted(name for name in used if name not in exposed)
    assert not missing, missing
