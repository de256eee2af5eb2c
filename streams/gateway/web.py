"""The gateway's HTTP port: GET /queue/stats (JSON), GET /metrics (Prometheus text) and
GET /healthz (liveness, for a container's healthcheck).

Both pages are described in :mod:`streams.web.endpoints`; /queue/stats is validated against
its ``QueueStatsResponse`` model so the page and the OpenAPI contract cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from streams.gateway.metrics import CONTENT_TYPE, GatewaySnapshot, render
from streams.web.endpoints import (
    GatewayCameraStats,
    GatewayProducerStats,
    QueueStatsResponse,
)


def stats_response(snap: GatewaySnapshot) -> QueueStatsResponse:
    """The /queue/stats body of a snapshot."""
    p = snap.producer
    return QueueStatsResponse(
        **snap.queue.as_dict(),
        producer=GatewayProducerStats(
            sink_connected=p.sink_connected,
            breaker_state=p.breaker_state,
            delivered_total=p.delivered_total,
            batches_total=p.batches_total,
            retried_total=p.retried_total,
            rejected_total=p.rejected_total,
            outages_total=p.outages_total,
            last_error=p.last_error,
            last_delivery_ms=p.last_delivery_ms,
        ),
        cameras={
            camera_id: GatewayCameraStats.model_validate(status.as_dict())
            for camera_id, status in snap.cameras.items()
        },
    )


def build_web_app(snapshot: Callable[[], GatewaySnapshot]) -> web.Application:
    """An aiohttp application serving the gateway's two pages."""

    async def queue_stats(_: web.Request) -> web.Response:
        body = stats_response(snapshot()).model_dump_json()
        return web.Response(text=body, content_type="application/json")

    async def healthz(_: web.Request) -> web.Response:
        # Liveness only: the process and its event loop answer. A broker outage is not a
        # reason to restart a gateway (it spools), so the sink's state is not part of it.
        return web.json_response({"status": "ok", "app_id": "camguard-gateway"})

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=render(snapshot))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/queue/stats", queue_stats)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app
