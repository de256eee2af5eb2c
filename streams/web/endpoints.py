"""A registry of the HTTP endpoints and their pydantic request/response models.

Every view module describes its endpoints here, next to the view itself, so the OpenAPI
document (codegen) is built from the same models the views use. Pure: no Faust import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

Method = Literal["GET", "POST", "PUT", "DELETE"]


@dataclass(frozen=True)
class QueryParam:
    """A query-string parameter of an endpoint."""

    name: str
    description: str
    required: bool = False
    type: Literal["string", "integer", "number", "boolean"] = "string"


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint: path (OpenAPI style, ``{param}``), method and models."""

    method: Method
    path: str
    summary: str
    response_model: type[BaseModel] | None
    request_model: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"


_REGISTRY: dict[tuple[str, str], Endpoint] = {}


def describe(endpoint: Endpoint) -> Endpoint:
    """Register ``endpoint`` (idempotent for the same method and path)."""
    _REGISTRY[(endpoint.method, endpoint.path)] = endpoint
    return endpoint


def endpoints() -> list[Endpoint]:
    """Every registered endpoint, sorted by path then method."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=lambda k: (k[1], k[0]))]


# --- the gateway's own HTTP port (camguard gateway, Settings.gateway_port) -------------------
# GET /metrics there serves the same Prometheus text format as the worker's (described above
# by streams.web.metrics), with the camguard_gateway_* and camguard_spool_* families.


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
    )
)
