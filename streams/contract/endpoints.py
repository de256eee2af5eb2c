"""Every HTTP endpoint of the worker and of the gateway, listed once, with its models.

A list, not a registry filled by importing view modules: what a server promises is read here
without loading the server. The worker's views (streams/web/, agents/frames.py) and the
gateway's (streams/gateway/web.py) serve exactly these pages; tests check that each server
mounts every page listed for it and no other (streams/contract/openapi.py ``undescribed_pages``,
``unserved_endpoints``). Add a page here, with its models in the server's ``*_http`` module.
"""

from __future__ import annotations

from streams.contract.gateway_http import QueueStatsResponse
from streams.contract.http import Endpoint, Liveness, OpenAPIDocument, QueryParam, Server
from streams.contract.policy_http import (
    SCOPE_PARAMS,
    PoliciesResponse,
    WebhookAccepted,
    WebhookRequest,
)
from streams.contract.worker_http import (
    MAX_PAGE,
    AnonymizerStats,
    BreakerList,
    CameraList,
    CameraView,
    DashboardPage,
    GatewaysResponse,
    Readiness,
    SeriesResponse,
)

SCOPE = QueryParam("scope", "'local': only this worker's cameras (used between workers)")
BAD_QUERY = {400: "a query parameter is not of its type"}
_SCOPE_QUERY = tuple(
    QueryParam(name, f"{name} of the scope to resolve for") for name in SCOPE_PARAMS
)

#: The worker's pages (Faust web, ``CAMGUARD_WEB_PORT``); Faust's own pages are not ours.
WORKER_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/healthz", "Liveness of the worker", Liveness, tags=("ops",)),
    Endpoint(
        "GET",
        "/readyz",
        "Readiness: false while table recovery runs",
        Readiness,
        errors={503: "not ready yet (tables recovering)"},
        tags=("ops",),
    ),
    Endpoint(
        "GET",
        "/api/cameras",
        "Health and breaker of every camera",
        CameraList,
        query=(SCOPE,),
        tags=("cameras",),
    ),
    Endpoint(
        "GET",
        "/api/cameras/{camera_id}",
        "Health and breaker of one camera (routed to the worker that owns it)",
        CameraView,
        errors={
            404: "no event was ever seen for this camera",
            503: "partition not assigned, or its owner not reachable yet (Retry-After)",
        },
        tags=("cameras",),
    ),
    Endpoint(
        "GET",
        "/api/breakers",
        "Circuit breaker of every camera",
        BreakerList,
        query=(SCOPE,),
        tags=("cameras",),
    ),
    Endpoint(
        "GET",
        "/api/anonymizer",
        "Anonymizer: detector, provider, model versions, counters, event-loop lag",
        AnonymizerStats,
        tags=("anonymize",),
    ),
    Endpoint(
        "GET",
        "/dashboard",
        "Operator dashboard (HTML): fleet, per-camera charts, previews, gateways, policies",
        None,
        content_type="text/html",
        tags=("ops",),
    ),
    Endpoint(
        "GET",
        "/api/dashboard",
        "Fleet summary and one page of the camera table (search, filter, sort, page)",
        DashboardPage,
        query=(
            QueryParam("q", "substring of the camera or org id (case-insensitive)"),
            QueryParam("state", "online, offline, closed, open or half_open; else all"),
            QueryParam("sort", "camera_id, org_id, online, state, fps, p95_ms, errors, ..."),
            QueryParam("order", "asc (default) or desc"),
            QueryParam("offset", "first row of the page (default 0)", type="integer"),
            QueryParam("limit", f"rows per page (default 50, at most {MAX_PAGE})", type="integer"),
            SCOPE,
        ),
        errors=BAD_QUERY,
        tags=("dashboard",),
    ),
    Endpoint(
        "GET",
        "/api/dashboard/series",
        "Per-camera history (fps, p95 latency, errors, breaker state) and breaker transitions",
        SeriesResponse,
        query=(
            QueryParam("cameras", f"comma-separated camera ids (at most {MAX_PAGE})"),
            QueryParam(
                "since", "only points after this time (epoch s; transitions: all)", type="number"
            ),
            SCOPE,
        ),
        errors=BAD_QUERY,
        tags=("dashboard",),
    ),
    Endpoint(
        "GET",
        "/api/dashboard/previews/{camera_id}",
        "The camera's latest anonymized frame, boxes drawn, as a JPEG thumbnail",
        None,
        content_type="image/jpeg",
        query=(QueryParam("v", "preview version (cache buster, ignored)"),),
        errors={
            403: "previews are turned off (CAMGUARD_DASHBOARD_PREVIEWS=false)",
            404: "no anonymized frame of this camera is held",
            503: "partition not assigned, or its owner not reachable yet (Retry-After)",
        },
        tags=("dashboard",),
    ),
    Endpoint(
        "GET",
        "/api/dashboard/gateways",
        "/queue/stats of each gateway listed in CAMGUARD_GATEWAYS",
        GatewaysResponse,
        tags=("dashboard",),
    ),
    Endpoint(
        "GET",
        "/policies",
        "Effective policies (global, or for ?org_id=&camera_id=) with provenance",
        PoliciesResponse,
        query=_SCOPE_QUERY,
        tags=("policies",),
    ),
    Endpoint(
        "POST",
        "/webhooks/supabase",
        "Supabase database webhook for service_policies",
        WebhookAccepted,
        request_model=WebhookRequest,
        errors={
            400: "not JSON",
            401: "missing or wrong secret or signature, or a stale timestamp",
            409: "replayed request, or an older version than the one held",
            413: "body over the size limit",
            422: "wrong table/schema/type, or an invalid config",
        },
        tags=("policies",),
    ),
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics: camguard's counters, process (CPU, RSS, fds, GC), per camera "
        "with CAMGUARD_METRICS_CAMERA_SERIES, Faust's sensors with CAMGUARD_FAUST_SENSORS",
        None,
        content_type="text/plain",
        tags=("ops",),
    ),
    Endpoint("GET", "/openapi.json", "This OpenAPI document", OpenAPIDocument, tags=("meta",)),
)

#: The gateway's pages (aiohttp, ``CAMGUARD_GATEWAY_PORT``).
GATEWAY_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/queue/stats",
        "Gateway queue: memory/disk sizes, bytes, oldest age, drops by reason, spill and drain",
        QueueStatsResponse,
        tags=("gateway",),
        server="gateway",
    ),
    Endpoint(
        "GET",
        "/healthz",
        "Liveness of the gateway (a broker outage does not fail it: frames spool)",
        Liveness,
        tags=("ops",),
        server="gateway",
    ),
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics: camguard_gateway_* and camguard_spool_* families",
        None,
        content_type="text/plain",
        tags=("ops",),
        server="gateway",
    ),
    Endpoint(
        "GET",
        "/openapi.json",
        "This OpenAPI document",
        OpenAPIDocument,
        tags=("meta",),
        server="gateway",
    ),
)

_BY_SERVER: dict[Server, tuple[Endpoint, ...]] = {
    "worker": WORKER_ENDPOINTS,
    "gateway": GATEWAY_ENDPOINTS,
}


def endpoints(server: Server = "worker") -> list[Endpoint]:
    """The endpoints ``server`` serves, sorted by path then method."""
    return sorted(_BY_SERVER[server], key=lambda e: (e.path, e.method))
