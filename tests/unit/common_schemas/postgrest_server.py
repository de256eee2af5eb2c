"""A local HTTP server speaking the part of Supabase's PostgREST that common_schemas uses.

``GET /rest/v1/service_policies`` serves ``policies`` (with PostgREST's ``limit``/``offset``);
``POST /rest/v1/rpc/camguard_publish_health`` updates the registered ``cameras`` the way the
SQL function of the migrations does (UPDATE only, ``metadata`` merged) and answers which were
updated and which are unknown. Requests without the service key are refused with 401.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from streams.store.base import PUBLISH_FUNCTION

KEY = "spec-service-role-key"


@dataclass
class FakeSupabase:
    url: str = ""
    policies: list[dict[str, Any]] = field(default_factory=list)
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Registered cameras by id: ``online``, ``last_seen``, ``metadata``."""
    health_calls: list[list[dict[str, Any]]] = field(default_factory=list)
    policy_reads: int = 0

    def register(self, camera_id: str, **metadata: Any) -> None:
        self.cameras[camera_id] = {"online": False, "last_seen": None, "metadata": metadata}

    @staticmethod
    def _authorised(request: web.Request) -> bool:
        return request.headers.get("apikey") == KEY and request.headers.get("Authorization") == (
            f"Bearer {KEY}"
        )

    async def service_policies(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "Invalid API key"}, status=401)
        self.policy_reads += 1
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", str(len(self.policies))))
        return web.json_response(self.policies[offset : offset + limit])

    async def publish_health(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "Invalid API key"}, status=401)
        snapshots = (await request.json())["snapshots"]
        self.health_calls.append(snapshots)
        updated, unknown = [], []
        for snap in snapshots:
            row = self.cameras.get(snap["id"])
            if row is None:
                unknown.append(snap["id"])
                continue
            row["online"] = snap["online"]
            row["last_seen"] = snap["last_seen"]
            row["metadata"] = {**row["metadata"], **snap["metadata"]}
            updated.append(snap["id"])
        return web.json_response({"updated": updated, "stale": [], "unknown": unknown})


@asynccontextmanager
async def fake_supabase() -> AsyncIterator[FakeSupabase]:
    """The fake on a free local port (``fake.url`` is the project URL)."""
    fake = FakeSupabase()
    app = web.Application()
    app.router.add_get("/rest/v1/service_policies", fake.service_policies)
    app.router.add_post(f"/rest/v1/rpc/{PUBLISH_FUNCTION}", fake.publish_health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
