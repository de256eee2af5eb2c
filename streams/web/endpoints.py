"""A registry of the HTTP endpoints and their pydantic request/response models.

Every view module describes its endpoints here, next to the view itself, so the OpenAPI
document (codegen) is built from the same models the views use. Pure: no Faust import.

Two servers answer HTTP: the worker (Faust web, ``camguard worker``) and the gateway (aiohttp,
``camguard gateway``). Each endpoint names its :data:`Server`, and each server's
``/openapi.json`` lists only its own endpoints (:func:`endpoints`), so neither document promises
a page that its server answers with 404. The gateway's pages are described at the end of this
module; the worker's next to their views in streams/web/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Method = Literal["GET", "POST", "PUT", "DELETE"]
Server = Literal["worker", "gateway"]
SERVERS: tuple[Server, ...] = ("worker", "gateway")


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter of an endpoint."""

    name: str
    description: str
    required: bool = False
    type: Literal["string", "integer", "number", "boolean"] = "string"


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint of one server: path (OpenAPI style, ``{param}``), method and models."""

    method: Method
    path: str
    summary: str
    response_model: type[BaseModel] | None
    request_model: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"
    server: Server = "worker"


_REGISTRY: dict[tuple[Server, str, str], Endpoint] = {}


def describe(endpoint: Endpoint) -> Endpoint:
    """Register ``endpoint`` (idempotent for the same server, method and path)."""
    _REGISTRY[(endpoint.server, endpoint.method, endpoint.path)] = endpoint
    return endpoint


def endpoints(server: Server = "worker") -> list[Endpoint]:
    """The endpoints ``server`` serves, sorted by path then method."""
    mine = [key for key in _REGISTRY if key[0] == server]
    return [_REGISTRY[k] for k in sorted(mine, key=lambda k: (k[2], k[1]))]


class Liveness(BaseModel):
    """The process answers (worker or gateway)."""

    status: str
    app_id: str


class OpenAPIDocument(BaseModel):
    """An OpenAPI 3.1 document (only the top-level keys are described)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


# --- the gateway's own HTTP port (camguard gateway, Settings.gateway_port) -------------------


class GatewayProducerStats(BaseModel):
    """The gateway's Kafka producer: connection, breaker and delivery counters."""

    sink_connected: bool
    breaker_state: Literal["CLOSED", "OPEN", "HALF_OPEN"]
    delivered_total: int
    batches_total: int
    retried_total: int
    rejected_total: int
    outages_total: int
    last_error: str | None
    last_delivery_ms: float | None


class GatewayCameraStats(BaseModel):
    """One camera served by the gateway."""

    camera_id: str
    source: str
    connected: bool
    frames_captured: int
    frames_queued: int
    frames_refused: int
    errors: int
    last_seq: int
    fps: float
    last_error: str | None


class QueueStatsResponse(BaseModel):
    """The gateway's ResilienceQueue (memory + disk spool), producer and cameras."""

    name: str
    memory_queue_size: int
    disk_queue_size: int
    total_queued: int
    in_flight: int
    memory_bytes: int
    disk_bytes: int
    disk_file_bytes: int
    disk_segments: int
    oldest_item_age_s: float | None
    enqueued_total: int
    dequeued_total: int
    acked_total: int
    nacked_total: int
    spilled_total: int
    drained_total: int
    recovered_total: int
    full_errors_total: int
    sink_up: bool
    disk_full: bool
    durable: bool
    dropped: dict[str, int]
    dropped_total: int
    quarantined: list[str]
    truncated_bytes: int
    producer: GatewayProducerStats
    cameras: dict[str, GatewayCameraStats]


describe(
    Endpoint(
        "GET",
        "/queue/stats",
        "Gateway queue: memory/disk sizes, bytes, oldest age, drops by reason, spill and drain",
        QueueStatsResponse,
        tags=("gateway",),
        server="gateway",
    )
)
describe(
    Endpoint(
        "GET",
        "/healthz",
        "Liveness of the gateway (a broker outage does not fail it: frames spool)",
        Liveness,
        tags=("ops",),
        server="gateway",
    )
)
describe(
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics: camguard_gateway_* and camguard_spool_* families",
        None,
        content_type="text/plain",
        tags=("ops",),
        server="gateway",
    )
)
describe(
    Endpoint(
        "GET",
        "/openapi.json",
        "This OpenAPI document",
        OpenAPIDocument,
        tags=("meta",),
        server="gateway",
    )
)
