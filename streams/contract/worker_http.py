"""The worker's JSON pages (Faust web, ``camguard worker``): their response models.

The views (streams/web/, the frames agent's ``/api/anonymizer``) build these models and
:mod:`streams.contract.endpoints` lists the pages with them, so the OpenAPI document and the
TypeScript client (codegen/) are built from the same classes the views answer with. The policy
pages' models are in :mod:`streams.contract.policy_http`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from streams.contract.gateway_http import QueueStatsResponse

#: A circuit breaker's state.
BreakerStateName = Literal["CLOSED", "OPEN", "HALF_OPEN"]
#: Rows of the dashboard's camera table per page, and cameras per series request, at most.
MAX_PAGE = 500


# --- cameras and breakers: /api/cameras, /api/cameras/{camera_id}, /api/breakers -----------


class BreakerView(BaseModel):
    """A camera's circuit breaker."""

    camera_id: str
    state: BreakerStateName
    effective_state: BreakerStateName
    """OPEN past its retry time reads HALF_OPEN: the next frame is a probe."""
    forced: bool
    consecutive_failures: int
    trips: int
    retry_at: datetime | None
    changed_at: datetime | None
    successes: int
    failures: int
    rejected: dict[str, int]


class CameraView(BaseModel):
    """A camera's health and breaker, as the worker owning it sees it now."""

    camera_id: str
    org_id: str | None
    online: bool
    last_seen: datetime | None
    frames_processed: int
    errors_count: int
    events: int
    avg_latency_ms: float
    p95_latency_ms: float
    fps: float
    circuit_breaker_state: BreakerStateName
    observed_at: datetime
    breaker: BreakerView


class CameraList(BaseModel):
    """Every camera known to the workers that answered."""

    cameras: list[CameraView]
    count: int
    partial: bool


class BreakerList(BaseModel):
    """Every camera breaker known to the workers that answered."""

    breakers: list[BreakerView]
    count: int
    partial: bool


# --- liveness and readiness, the anonymizer -------------------------------------------------


class Readiness(BaseModel):
    """Whether the worker serves traffic: false while tables recover or partitions move."""

    ready: bool
    recovering: bool
    rebalancing: bool
    counters: dict[str, int]


class AnonymizerStats(BaseModel):
    """The frames worker's anonymizer: what runs where, and how the event loop keeps up."""

    detector: str | None = Field(description="e.g. centerface+clp_det@cpu; null until loaded")
    provider: str | None = Field(default=None, description="active onnxruntime provider(s)")
    models: dict[str, str] = Field(default_factory=dict, description="model -> pinned version")
    batch_size: dict[str, int] = Field(default_factory=dict, description="per detector")
    batch_latency_ms: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="detector -> batch size -> measured latency at start"
    )
    detection_max_side: int | None = None
    pool_size: int
    counters: dict[str, int] = Field(default_factory=dict)
    event_loop_lag_ms: float = Field(description="last measured lag of the event loop")
    event_loop_lag_max_ms: float = Field(description="largest lag since start")


# --- the dashboard: /api/dashboard, /api/dashboard/series, /api/dashboard/gateways ----------


class DashboardSummary(BaseModel):
    """The fleet at a glance (every camera, not only the page)."""

    cameras: int
    online: int
    offline: int
    closed: int
    open: int
    half_open: int
    fps: float
    """Frames per second, summed over the cameras."""
    fail_closed_per_s: float
    deadletter_per_s: float
    anonymized_per_s: float


class DashboardCamera(BaseModel):
    """One row of the camera table."""

    camera_id: str
    org_id: str | None
    online: bool
    state: BreakerStateName
    """The breaker's effective state (OPEN past its retry time reads HALF_OPEN)."""
    last_seen: float | None
    """Epoch seconds of the camera's last event or frame; null if never."""
    fps: float
    p95_ms: float
    errors: int
    frames: int
    trips: int
    preview: int | None
    """Version of the latest preview held for the camera (changes with each frame)."""


class DashboardPage(BaseModel):
    """The summary and one page of the camera table."""

    summary: DashboardSummary
    cameras: list[DashboardCamera]
    matched: int
    offset: int
    limit: int
    partial: bool
    previews: bool
    interval_s: float
    window_s: float
    generated_at: float


class TransitionModel(BaseModel):
    """A breaker transition, as sent to camera.breaker.transitions."""

    at: float
    from_state: str
    to_state: str
    reason: str


class CameraSeries(BaseModel):
    """A camera's sampled history (oldest first) and its recent breaker transitions."""

    camera_id: str
    t: list[float]
    fps: list[float]
    p95_ms: list[float]
    errors: list[float]
    state: list[float]
    """Breaker state per sample: 0 CLOSED, 1 HALF_OPEN, 2 OPEN."""
    transitions: list[TransitionModel]


class SeriesResponse(BaseModel):
    """Histories of the cameras asked for (those no worker knows are left out)."""

    series: list[CameraSeries]
    interval_s: float
    window_s: float
    partial: bool


class RelayedQueueStats(QueueStatsResponse):
    """A gateway's /queue/stats body as the worker relays it (the gateway's own model; the
    worker does not serve /queue/stats itself)."""


class GatewayStatus(BaseModel):
    """One configured gateway: its /queue/stats, or why it could not be read."""

    url: str
    ok: bool
    error: str | None
    stats: RelayedQueueStats | None


class GatewaysResponse(BaseModel):
    """The gateways listed in CAMGUARD_GATEWAYS."""

    gateways: list[GatewayStatus]
