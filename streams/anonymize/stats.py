"""What the anonymizer reports: detector, provider, model versions, counters, event-loop lag.

Served as ``GET /api/anonymizer`` by the frames agent's worker; streams/web/anonymizer.py
describes the endpoint for the OpenAPI document and the TypeScript types.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field


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


@dataclass
class LagMeter:
    """Event-loop lag from a periodic sleep: how late the loop woke up (ms).

    A task sleeps ``interval`` and reports ``elapsed``; anything over the interval is time the
    loop spent on something else (a blocking call shows up here first).
    """

    last_ms: float = 0.0
    max_ms: float = 0.0
    ewma_ms: float = 0.0
    samples: int = 0
    alpha: float = 0.2

    def observe(self, interval_s: float, elapsed_s: float) -> float:
        lag = max(0.0, (elapsed_s - interval_s) * 1000.0)
        self.last_ms = lag
        self.max_ms = max(self.max_ms, lag)
        self.ewma_ms = (
            lag if self.samples == 0 else self.ewma_ms + self.alpha * (lag - self.ewma_ms)
        )
        self.samples += 1
        return lag
