"""Prometheus metrics of a gateway, collected from its live state at scrape time, and of its
process (``process_*``: CPU, RSS, fds; ``python_gc_*``; ``python_info``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.contract.gateway_http import QueueStats
from streams.gateway.camera_loop import CameraStatus
from streams.spool.producer import ProducerStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Family = CounterMetricFamily | GaugeMetricFamily


@dataclass(frozen=True)
class GatewaySnapshot:
    queue: QueueStats
    producer: ProducerStats
    cameras: Mapping[str, CameraStatus]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def queue_families(q: QueueStats) -> Iterator[Family]:
    queued = GaugeMetricFamily("camguard_spool_queued", "Pending items by tier", labels=["tier"])
    queued.add_metric(["memory"], q.memory_queue_size)
    queued.add_metric(["disk"], q.disk_queue_size)
    yield queued
    stored = GaugeMetricFamily("camguard_spool_bytes", "Bytes held by tier", labels=["tier"])
    stored.add_metric(["memory"], q.memory_bytes)
    stored.add_metric(["disk"], q.disk_bytes)
    stored.add_metric(["disk_files"], q.disk_file_bytes)
    yield stored
    yield _gauge("camguard_spool_in_flight", "Items handed to the sink, not yet acked", q.in_flight)
    yield _gauge(
        "camguard_spool_oldest_item_age_seconds",
        "Age of the oldest queued item",
        q.oldest_item_age_s or 0.0,
    )
    yield _gauge("camguard_spool_sink_up", "1 while the sink is taking records", q.sink_up)
    yield _gauge("camguard_spool_disk_full", "1 while the spool's disk refuses writes", q.disk_full)
    dropped = CounterMetricFamily(
        "camguard_spool_dropped", "Items dropped, by reason", labels=["reason"]
    )
    for reason, count in sorted(q.dropped.items()):
        dropped.add_metric([reason], count)
    yield dropped
    for name, value in (
        ("enqueued", q.enqueued_total),
        ("acked", q.acked_total),
        ("spilled", q.spilled_total),
        ("drained", q.drained_total),
        ("recovered", q.recovered_total),
    ):
        yield _counter(f"camguard_spool_{name}", f"Items {name}", value)


def producer_families(p: ProducerStats) -> Iterator[Family]:
    yield _gauge("camguard_gateway_sink_connected", "1 while connected", p.sink_connected)
    state = GaugeMetricFamily(
        "camguard_gateway_breaker_state", "Sink breaker state (1 = current)", labels=["state"]
    )
    for name in ("CLOSED", "OPEN", "HALF_OPEN"):
        state.add_metric([name], 1.0 if p.breaker_state == name else 0.0)
    yield state
    yield _counter("camguard_gateway_delivered", "Records delivered to Kafka", p.delivered_total)
    yield _counter("camguard_gateway_outages", "Times the sink was marked down", p.outages_total)


def camera_families(cameras: Mapping[str, CameraStatus]) -> Iterator[Family]:
    labels = ["camera_id"]
    captured = CounterMetricFamily("camguard_gateway_frames_captured", "Frames read", labels=labels)
    queued = CounterMetricFamily("camguard_gateway_frames_queued", "Frames queued", labels=labels)
    errors = CounterMetricFamily("camguard_gateway_camera_errors", "Source errors", labels=labels)
    fps = GaugeMetricFamily("camguard_gateway_camera_fps", "Measured frame rate", labels=labels)
    up = GaugeMetricFamily("camguard_gateway_camera_connected", "1 while connected", labels=labels)
    for camera_id, status in sorted(cameras.items()):
        captured.add_metric([camera_id], status.frames_captured)
        queued.add_metric([camera_id], status.frames_queued)
        errors.add_metric([camera_id], status.errors)
        fps.add_metric([camera_id], status.fps)
        up.add_metric([camera_id], status.connected)
    yield from (captured, queued, errors, fps, up)


class GatewayCollector(Collector):
    """Reads a fresh snapshot on every scrape."""

    def __init__(self, snapshot: Callable[[], GatewaySnapshot]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Family]:
        snap = self.snapshot()
        yield from queue_families(snap.queue)
        yield from producer_families(snap.producer)
        yield from camera_families(snap.cameras)


def render(snapshot: Callable[[], GatewaySnapshot]) -> bytes:
    """The Prometheus text exposition of a gateway."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(snapshot))
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return bytes(generate_latest(registry))
