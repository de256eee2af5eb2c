"""Camera health and breaker views: GET /api/cameras, /api/cameras/{camera_id}, /api/breakers.

``/api/cameras/{camera_id}`` is routed by Faust's ``table_route`` to the worker that owns the
camera's partition. The two lists gather every worker's cameras: each worker answers with its
own (``?scope=local``) and asks the other hosts of the table's assignment for theirs; a host
that does not answer makes the list ``partial`` instead of failing it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from faust.exceptions import NotReady
from faust.web import Request, Response, View

from streams.app import CamguardApp
from streams.contract.worker_http import BreakerView, CameraView
from streams.exceptions import CamguardError
from streams.resilience.breaker import BreakerState, effective_state
from streams.resilience.health import HealthConfig, HealthState, snapshot
from streams.resilience.tables import CAMERA_HEALTH, CameraTables

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Response]]


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def breaker_view(camera_id: str, state: BreakerState, now: float) -> BreakerView:
    """The JSON view of a breaker state at ``now``."""
    return BreakerView(
        camera_id=camera_id,
        state=state.state.value,
        effective_state=effective_state(state, now).value,
        forced=state.forced,
        consecutive_failures=state.consecutive_failures,
        trips=state.trips,
        retry_at=_time(state.retry_at),
        changed_at=_time(state.changed_at),
        successes=state.successes,
        failures=state.failures,
        rejected=dict(state.rejected),
    )


def camera_view(
    health: HealthState, breaker: BreakerState, now: float, config: HealthConfig
) -> CameraView:
    """The JSON view of a camera at ``now``."""
    snap = snapshot(health, now, config)
    return CameraView(
        camera_id=snap.camera_id,
        org_id=snap.org_id,
        online=snap.online,
        last_seen=_time(snap.last_seen),
        frames_processed=snap.frames_processed,
        errors_count=snap.errors_count,
        events=health.events,
        avg_latency_ms=snap.avg_latency_ms,
        p95_latency_ms=snap.p95_latency_ms,
        fps=snap.fps,
        circuit_breaker_state=snap.circuit_breaker_state.value,
        observed_at=datetime.fromtimestamp(now, tz=UTC),
        breaker=breaker_view(snap.camera_id, breaker, now),
    )


def error_response(view: View, error: CamguardError) -> Response:
    """The JSON error answer for ``error``: its ``status`` and ``reason``, and ``Retry-After``
    when it carries one (:class:`~streams.resilience.exceptions.CircuitOpenError` -> 503)."""
    retry = getattr(error, "retry_after_header", None)
    headers = {"Retry-After": retry} if isinstance(retry, str) else None
    return view.error(error.status, error.reason, headers=headers, detail=str(error))


def local_cameras(tables: CameraTables, now: float, config: HealthConfig) -> list[CameraView]:
    """This worker's cameras (its active partitions), sorted by id."""
    views = [
        camera_view(health, tables.breaker(camera_id), now, config)
        for camera_id, health in tables.health_items()
    ]
    return sorted(views, key=lambda v: v.camera_id)


def local_breakers(tables: CameraTables, now: float) -> list[BreakerView]:
    """This worker's camera breakers, sorted by camera id."""
    found = [breaker_view(camera_id, state, now) for camera_id, state in tables.breaker_items()]
    return sorted(found, key=lambda v: v.camera_id)


async def _from_other_workers(cg: CamguardApp, path: str, key: str) -> tuple[list[Any], bool]:
    """Items under ``key`` from every other host of the table assignment; and whether partial."""
    own = str(cg.app.conf.canonical_url).rstrip("/")
    try:
        hosts = [h.rstrip("/") for h in cg.app.router.table_metadata(CAMERA_HEALTH)]
    except KeyError:
        return [], True
    others = [h for h in hosts if h != own]

    async def fetch(host: str) -> list[Any] | None:
        try:
            async with asyncio.timeout(5.0):
                url = f"{host}{path}?scope=local"
                async with cg.app.http_client.get(url) as response:
                    if response.status != 200:
                        return None
                    body = await response.json()
                    return list(body[key])
        except (OSError, TimeoutError, ValueError, KeyError) as exc:
            log.warning("worker %s did not answer %s: %r", host, path, exc)
            return None

    answers = await asyncio.gather(*(fetch(h) for h in others))
    items = [item for answer in answers if answer is not None for item in answer]
    return items, any(answer is None for answer in answers)


def answer_503_when_unroutable(route: Callable[[Handler], Handler]) -> Callable[[Handler], Handler]:
    """Faust's ``table_route`` decorator, answering 503 (``Retry-After: 1``) instead of a 500
    while the worker cannot tell which worker owns a key (its producer is not started yet) or
    the owner does not answer (it is restarting)."""

    def decorate(handler: Handler) -> Handler:
        routed = route(handler)

        @functools.wraps(handler)
        async def get(view: View, request: Request, **kwargs: Any) -> Response:
            try:
                return await routed(view, request, **kwargs)
            except (NotReady, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("cannot route %s to the camera's owner: %r", request.url, exc)
                detail = "the worker owning this camera cannot be reached yet; retry"
                return view.error(503, detail, headers={"Retry-After": "1"})

        return get

    return decorate


def install(cg: CamguardApp) -> None:
    """Register the camera views on ``cg.app``."""
    tables = CameraTables.of(cg.tables.by_name)
    config = HealthConfig(
        offline_after_s=cg.settings.offline_after_s,
        online_after_frames=cg.settings.online_after_frames,
    )
    app: Any = cg.app  # faust's decorators are untyped

    def now() -> float:
        return datetime.now(tz=UTC).timestamp()

    @app.page("/api/cameras")
    class CamerasView(View):
        async def get(self, request: Request) -> Response:
            mine = [v.model_dump(mode="json") for v in local_cameras(tables, now(), config)]
            partial = False
            if request.query.get("scope") != "local":
                theirs, partial = await _from_other_workers(cg, "/api/cameras", "cameras")
                mine = sorted(mine + theirs, key=lambda v: str(v["camera_id"]))
            body = {"cameras": mine, "count": len(mine), "partial": partial}
            return self.json(body)

    route_to_owner = answer_503_when_unroutable(
        app.table_route(table=cg.tables.by_name[CAMERA_HEALTH], match_info="camera_id")
    )

    @app.page("/api/cameras/{camera_id}")
    class CameraDetailView(View):
        @route_to_owner
        async def get(self, request: Request, camera_id: str) -> Response:
            if camera_id.encode() not in tables.health:
                return self.error(404, f"no camera {camera_id!r} seen")
            health = tables.camera_health(camera_id)
            view = camera_view(health, tables.breaker(camera_id), now(), config)
            return self.json(view.model_dump(mode="json"))

    @app.page("/api/breakers")
    class BreakersView(View):
        async def get(self, request: Request) -> Response:
            mine = [v.model_dump(mode="json") for v in local_breakers(tables, now())]
            partial = False
            if request.query.get("scope") != "local":
                theirs, partial = await _from_other_workers(cg, "/api/breakers", "breakers")
                mine = sorted(mine + theirs, key=lambda v: str(v["camera_id"]))
            return self.json({"breakers": mine, "count": len(mine), "partial": partial})
