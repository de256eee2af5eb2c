"""The gateway's HTTP port: GET /queue/stats (JSON), GET /metrics (Prometheus text),
GET /healthz (liveness, for a container's healthcheck) and GET /openapi.json.

Every page is listed in :mod:`streams.contract.endpoints` as a ``gateway`` endpoint, and
/openapi.json serves the document of exactly those (not the worker's). /queue/stats is the
contract's ``QueueStatsResponse`` (streams/contract/gateway_http.py), built from the queue's own
``QueueStats`` so the page and the contract cannot drift apart. aiohttp answers 405 with an
``Allow`` header for a method a page does not serve.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from streams.contract.gateway_http import (
    GATEWAY_SERVICE,
    GatewayCameraStats,
    QueueStatsResponse,
)
from streams.contract.http import Liveness
from streams.contract.openapi import server_document, service_version
from streams.gateway.metrics import CONTENT_TYPE, GatewaySnapshot, render


def stats_response(snap: GatewaySnapshot) -> QueueStatsResponse:
    """The /queue/stats body of a snapshot."""
    return QueueStatsResponse(
        **snap.queue.model_dump(),
        producer=snap.producer,  # the spool producer's stats are the contract's model
        cameras={
            camera_id: GatewayCameraStats.model_validate(status.as_dict())
            for camera_id, status in snap.cameras.items()
        },
    )


def gateway_openapi(version: str | None = None) -> dict[str, Any]:
    """The gateway's OpenAPI document: only the pages this module serves."""
    return server_document("gateway", GATEWAY_SERVICE, version or service_version())


def build_web_app(snapshot: Callable[[], GatewaySnapshot]) -> web.Application:
    """An aiohttp application serving the gateway's pages."""
    document = json.dumps(gateway_openapi())
    liveness = Liveness(status="ok", app_id=GATEWAY_SERVICE).model_dump_json()

    async def queue_stats(_: web.Request) -> web.Response:
        body = stats_response(snapshot()).model_dump_json()
        return web.Response(text=body, content_type="application/json")

    async def healthz(_: web.Request) -> web.Response:
        # Liveness only: the process and its event loop answer. A broker outage is not a
        # reason to restart a gateway (it spools), so the sink's state is not part of it.
        return web.Response(text=liveness, content_type="application/json")

    async def metrics(_: web.Request) -> web.Response:
        response = web.Response(body=render(snapshot))
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(text=document, content_type="application/json")

    app = web.Application()
    app.router.add_get("/queue/stats", queue_stats)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    return app
