"""Liveness and readiness views: GET /healthz, GET /readyz."""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.contract.http import Liveness
from streams.contract.worker_http import Readiness
from streams.faust_edge.worker_hooks import rebalancing, recovering


def readiness(cg: CamguardApp) -> Readiness:
    in_recovery, in_rebalance = recovering(cg.app), rebalancing(cg.app)
    return Readiness(
        ready=not (in_recovery or in_rebalance),
        recovering=in_recovery,
        rebalancing=in_rebalance,
        counters=dict(cg.counters),
    )


def install(cg: CamguardApp) -> None:
    """Register /healthz and /readyz on the app's web server."""

    @cg.app.page("/healthz")
    class HealthzView(View):
        async def get(self, request: Request) -> Response:
            return self.json(Liveness(status="ok", app_id=cg.settings.app_id).model_dump())

    @cg.app.page("/readyz")
    class ReadyzView(View):
        async def get(self, request: Request) -> Response:
            state = readiness(cg)
            body: dict[str, Any] = state.model_dump()
            return self.json(body, status=200 if state.ready else 503)
