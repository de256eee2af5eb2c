"""GET /metrics (Prometheus text) and Faust's stats pages under /stats/.

/metrics carries camguard's counters and gauges, the process (``process_*``: CPU seconds, RSS,
open and max fds, start time; ``python_gc_*``: collections and collected objects per
generation; ``python_info``) and, with ``CAMGUARD_METRICS_CAMERA_SERIES=N``, per-camera series
(``camguard_camera_*{camera_id}``) for at most N of this worker's cameras: a label value per
camera multiplies every series by the fleet's size, so it is off by default and capped
(``camguard_camera_series_omitted`` counts the cameras left out).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from faust.sensors.prometheus import setup_prometheus_sensors
from faust.web import Request, Response, View
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel

from streams.app import CamguardApp
from streams.resilience.breaker import effective_state
from streams.resilience.health import HealthConfig, snapshot
from streams.resilience.tables import CameraTables


class PrometheusText(BaseModel):
    """Prometheus text exposition format (version 0.0.4); described as a plain string."""

    text: str


class CounterCollector(Collector):
    """Exposes the app's process-local counters and gauges."""

    def __init__(self, cg: CamguardApp) -> None:
        self.cg = cg

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters = CounterMetricFamily(
            "camguard_events",
            "camguard counters by name (dead letters, refusals, ...)",
            labels=["name"],
        )
        for name, value in sorted(self.cg.counters.items()):
            counters.add_metric([name], value)
        yield counters
        gauges = GaugeMetricFamily("camguard_gauge", "camguard gauges by name", labels=["name"])
        for name, gauge in sorted(self.cg.gauges.items()):
            gauges.add_metric([name], gauge)
        yield gauges


def register_process_collectors(registry: CollectorRegistry) -> None:
    """CPU, memory, fds (``process_*``, from /proc), GC (``python_gc_*``) and ``python_info``."""
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


class CameraCollector(Collector):
    """Per-camera series for at most ``limit`` of this worker's cameras (by camera id)."""

    def __init__(
        self,
        tables: Callable[[], CameraTables],
        config: HealthConfig,
        limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tables = tables
        self.config = config
        self.limit = limit
        self.clock = clock

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["camera_id"]
        fps = GaugeMetricFamily("camguard_camera_fps", "Frames per second", labels=labels)
        p95 = GaugeMetricFamily(
            "camguard_camera_p95_latency_ms", "p95 processing latency (ms)", labels=labels
        )
        online = GaugeMetricFamily("camguard_camera_online", "1 while online", labels=labels)
        frames = CounterMetricFamily("camguard_camera_frames", "Frames processed", labels=labels)
        errors = CounterMetricFamily("camguard_camera_errors", "Errors", labels=labels)
        state = GaugeMetricFamily(
            "camguard_camera_breaker_state",
            "Breaker's effective state (1 = current)",
            labels=["camera_id", "state"],
        )
        tables = self.tables()
        now = self.clock()
        cameras = sorted(tables.health_items(), key=lambda item: item[0])
        for camera_id, health in cameras[: self.limit]:
            snap = snapshot(health, now, self.config)
            fps.add_metric([camera_id], snap.fps)
            p95.add_metric([camera_id], snap.p95_latency_ms)
            online.add_metric([camera_id], float(snap.online))
            frames.add_metric([camera_id], snap.frames_processed)
            errors.add_metric([camera_id], snap.errors_count)
            current = effective_state(tables.breaker(camera_id), now).value
            for name in ("CLOSED", "OPEN", "HALF_OPEN"):
                state.add_metric([camera_id, name], 1.0 if name == current else 0.0)
        yield from (fps, p95, online, frames, errors, state)
        yield GaugeMetricFamily(
            "camguard_camera_series_omitted",
            "Cameras without per-camera series (over CAMGUARD_METRICS_CAMERA_SERIES)",
            value=max(0, len(cameras) - self.limit),
        )


def install(cg: CamguardApp) -> None:
    """Mount Faust's stats blueprint at /stats/ and Prometheus metrics at /metrics.

    camguard's counters and gauges are always there. Faust's own per-message sensors cost
    about 30% of the events agent's throughput (bench/events.py), so they are opt-in:
    ``CAMGUARD_FAUST_SENSORS=true``. Faust's /stats/ page keeps its own counts either way.
    """
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CounterCollector(cg))
    register_process_collectors(registry)
    if cg.settings.metrics_camera_series > 0:
        config = HealthConfig(
            offline_after_s=cg.settings.offline_after_s,
            online_after_frames=cg.settings.online_after_frames,
        )
        limit = cg.settings.metrics_camera_series
        registry.register(
            CameraCollector(lambda: CameraTables.of(cg.tables.by_name), config, limit)
        )
    if cg.settings.faust_sensors:
        setup_prometheus_sensors(cg.app, pattern="/metrics", registry=registry, name_prefix="faust")
    else:

        @cg.app.page("/metrics")
        class MetricsView(View):
            async def get(self, request: Request) -> Response:
                return self.bytes(
                    generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0]
                )

    cg.app.web.blueprints.add("/stats/", "faust.web.apps.stats:blueprint")
