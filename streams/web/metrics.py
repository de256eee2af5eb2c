"""GET /metrics (Prometheus text) and Faust's stats pages under /stats/."""

from __future__ import annotations

from collections.abc import Iterator

from faust.sensors.prometheus import setup_prometheus_sensors
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel

from streams.app import CamguardApp
from streams.web.endpoints import Endpoint, describe


class PrometheusText(BaseModel):
    """Prometheus text exposition format (version 0.0.4); described as a plain string."""

    text: str


describe(
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics: Faust's sensors and camguard's counters",
        None,
        content_type="text/plain",
        tags=("ops",),
    )
)


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


def install(cg: CamguardApp) -> None:
    """Mount Faust's stats blueprint at /stats/ and Prometheus metrics at /metrics.

    camguard's counters and gauges are always there. Faust's own per-message sensors cost
    about 30% of the events agent's throughput (bench/events.py), so they are opt-in:
    ``CAMGUARD_FAUST_SENSORS=true``. Faust's /stats/ page keeps its own counts either way.
    """
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CounterCollector(cg))
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
