"""Per-camera health as a pure fold over observations.

``observe(state, observation, config)`` folds one camera event in; ``tick(state, now, config)``
lets time pass (a camera that sent nothing for ``offline_after_s`` goes offline); ``snapshot``
turns the state into the ``CameraHealth`` record's fields. No clock, no I/O: times are epoch
seconds passed in. Every structure is bounded: the latency histogram has a fixed set of
log-spaced buckets whose counts are halved when they grow past ``histogram_max_count`` (so
the p95 follows recent traffic), and fps keeps one-second buckets over ``fps_window_s``.

Liveness has hysteresis so a flapping camera does not toggle every second: a camera goes
offline after ``offline_after_s`` without a sign of life (a frame or a heartbeat) or on
``DISCONNECTED``, and comes back online only after ``online_after_frames`` signs of life in a
row, none of them more than ``offline_after_s`` apart. A new camera starts offline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from streams.contract.records import EventKind
from streams.resilience.breaker import State
from streams.resilience.evolve import evolve

FRAMES = frozenset({EventKind.FRAME_OK, EventKind.FRAME_ERROR})
ALIVE = frozenset({EventKind.FRAME_OK, EventKind.FRAME_ERROR, EventKind.HEARTBEAT})
FAILURES = frozenset({EventKind.FRAME_ERROR, EventKind.ERROR})
SUCCESSES = frozenset({EventKind.FRAME_OK, EventKind.HEARTBEAT})
"""Kinds the breaker counts as successes (see :func:`streams.resilience.camera.breaker_event`)."""

HISTOGRAM_BASE_MS = 0.5
HISTOGRAM_GROWTH = 1.2
HISTOGRAM_BUCKETS = 80  # 0.5 ms .. ~1000 s, each bucket about 20 % wide
_LOG_GROWTH = math.log(HISTOGRAM_GROWTH)


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds of the health fold (defaults match ``Settings``)."""

    offline_after_s: float = 60.0
    online_after_frames: int = 3
    ewma_alpha: float = 0.2
    fps_window_s: int = 10
    histogram_max_count: int = 10_000


class Observation(NamedTuple):
    """One thing seen at a camera at epoch second ``at``.

    A named tuple, not a frozen dataclass: the events agent makes one per message and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) costs 4x more.
    """

    kind: EventKind
    at: float
    latency_ms: float | None = None
    org_id: str | None = None


@dataclass(frozen=True)
class HealthState:
    """What is remembered about one camera (serialised with :mod:`streams.resilience.serde`)."""

    camera_id: str
    org_id: str | None = None
    frames_processed: int = 0
    events: int = 0
    errors_count: int = 0
    avg_latency_ms: float | None = None
    latency_samples: int = 0
    histogram: tuple[tuple[int, int], ...] = ()
    """Sparse (bucket index, count) pairs, sorted by index."""
    fps_buckets: tuple[tuple[int, int], ...] = ()
    """(epoch second, frames) pairs within the fps window, sorted."""
    first_seen: float | None = None
    last_seen: float | None = None
    last_frame_at: float | None = None
    """Last sign of life (frame or heartbeat); drives the offline timeout."""
    online: bool = False
    frames_toward_online: int = 0
    breaker_state: State = State.CLOSED
    version: int = 0
    """Bumped on every change; the publisher sends cameras whose version moved."""


@dataclass(frozen=True)
class HealthSnapshot:
    """The ``CameraHealth`` record's fields; times in epoch seconds."""

    camera_id: str
    org_id: str | None
    online: bool
    last_seen: float | None
    frames_processed: int
    errors_count: int
    avg_latency_ms: float
    p95_latency_ms: float
    fps: float
    circuit_breaker_state: State
    observed_at: float

    def to_record(self) -> dict[str, object]:
        """The ``CameraHealth`` Avro record (timestamps as epoch milliseconds)."""
        last_seen = None if self.last_seen is None else round(self.last_seen * 1000)
        return {
            "camera_id": self.camera_id,
            "org_id": self.org_id,
            "online": self.online,
            "last_seen": last_seen,
            "frames_processed": self.frames_processed,
            "errors_count": self.errors_count,
            "avg_latency_ms": self.avg_latency_ms,
            "p95_latency_ms": self.p95_latency_ms,
            "fps": self.fps,
            "circuit_breaker_state": self.circuit_breaker_state.value,
            "observed_at": round(self.observed_at * 1000),
        }


def rejection_reason(
    at: float, latency_ms: float | None, now: float, max_skew_s: float
) -> str | None:
    """Why an observation must be dead-lettered instead of folded in, or None if it is fine."""
    if latency_ms is not None and (math.isnan(latency_ms) or math.isinf(latency_ms)):
        return "non_finite_latency"
    if latency_ms is not None and latency_ms < 0:
        return "negative_latency"
    if abs(at - now) > max_skew_s:
        return "timestamp_skew"
    return None


def bucket_of(latency_ms: float) -> int:
    """The histogram bucket holding ``latency_ms``."""
    if latency_ms <= HISTOGRAM_BASE_MS:
        return 0
    # math.log(x, base) is log(x) / log(base): the same float with the divisor computed once
    index = math.ceil(math.log(latency_ms / HISTOGRAM_BASE_MS) / _LOG_GROWTH)
    return min(index, HISTOGRAM_BUCKETS - 1)


def bucket_value(index: int) -> float:
    """A representative latency of bucket ``index`` (geometric middle of its bounds)."""
    if index == 0:
        return HISTOGRAM_BASE_MS / 2
    upper = HISTOGRAM_BASE_MS * HISTOGRAM_GROWTH**index
    return upper / math.sqrt(HISTOGRAM_GROWTH)


def percentile(state: HealthState, q: float) -> float:
    """The ``q`` quantile (0-1) of recent latencies from the histogram; 0.0 with no samples."""
    total = sum(count for _, count in state.histogram)
    if total == 0:
        return 0.0
    rank, seen = q * total, 0
    for index, count in state.histogram:
        seen += count
        if seen >= rank:
            return bucket_value(index)
    return bucket_value(state.histogram[-1][0])


def fps(state: HealthState, now: float, config: HealthConfig) -> float:
    """Frames per second over the ``fps_window_s`` seconds up to ``now``."""
    low = math.floor(now) - config.fps_window_s
    frames = sum(count for second, count in state.fps_buckets if low < second <= now)
    return frames / config.fps_window_s


def observe(state: HealthState, obs: Observation, config: HealthConfig) -> HealthState:
    """Fold one observation into ``state`` (its breaker state unchanged)."""
    return observe_many(state, ((obs, state.breaker_state),), config)


def observe_many(  # noqa: C901 (one hot loop: a helper call per event costs more than it reads better)
    state: HealthState, items: Iterable[tuple[Observation, State]], config: HealthConfig
) -> HealthState:
    """Fold observations, each followed by the breaker state it left, into ``state`` at once.

    The one health fold (:func:`observe` is a batch of one). A batch equals its items folded
    one at a time with ``with_breaker(observe(state, obs, config), breaker_state)`` (a
    property test holds it to that); the histogram and fps buckets stay mutable dicts until
    the end, so the events agent folds a batch per camera for about a third of the cost.
    """
    org_id, events, frames = state.org_id, state.events, state.frames_processed
    errors, version = state.errors_count, state.version
    first_seen, last_seen = state.first_seen, state.last_seen
    avg, samples = state.avg_latency_ms, state.latency_samples
    online, toward, last_frame_at = state.online, state.frames_toward_online, state.last_frame_at
    breaker_state = state.breaker_state
    histogram: dict[int, int] | None = None
    histogram_total = 0
    fps_buckets: dict[int, int] | None = None
    alpha, offline_after = config.ewma_alpha, config.offline_after_s
    for obs, moved_to in items:
        kind, at = obs.kind, obs.at
        org_id = obs.org_id or org_id
        events += 1
        version += 1
        if kind is EventKind.FRAME_OK:
            frames += 1
        elif kind in FAILURES:
            errors += 1
        first_seen = at if first_seen is None or at < first_seen else first_seen
        last_seen = at if last_seen is None or at > last_seen else last_seen
        latency = obs.latency_ms
        if latency is not None:
            avg = latency if avg is None else avg + alpha * (latency - avg)
            samples += 1
            if histogram is None:
                histogram = dict(state.histogram)
                histogram_total = sum(histogram.values())
            index = bucket_of(latency)
            histogram[index] = histogram.get(index, 0) + 1
            histogram_total += 1
            if histogram_total > config.histogram_max_count:
                histogram = {i: c // 2 for i, c in histogram.items() if c // 2}
                histogram_total = sum(histogram.values())
        if kind in FRAMES:
            if fps_buckets is None:
                fps_buckets = dict(state.fps_buckets)
            second = math.floor(at)
            fps_buckets[second] = fps_buckets.get(second, 0) + 1
        if kind is EventKind.DISCONNECTED:
            online, toward = False, 0
        elif kind in ALIVE:
            gap = last_frame_at is not None and at - last_frame_at >= offline_after
            last = at if last_frame_at is None or at > last_frame_at else last_frame_at
            if not (online and not gap):
                streak = 1 if gap or last_frame_at is None else toward + 1
                online = streak >= config.online_after_frames
                toward = 0 if online else streak
            last_frame_at = last
        if moved_to is not breaker_state:
            breaker_state = moved_to
            version += 1
    changes: dict[str, Any] = {
        "org_id": org_id,
        "events": events,
        "frames_processed": frames,
        "errors_count": errors,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "avg_latency_ms": avg,
        "latency_samples": samples,
        "online": online,
        "frames_toward_online": toward,
        "last_frame_at": last_frame_at,
        "breaker_state": breaker_state,
        "version": version,
    }
    if histogram is not None:
        changes["histogram"] = tuple(sorted(histogram.items()))
    if fps_buckets is not None:
        # Pruning once at the end keeps what pruning after every frame keeps: the newest
        # second only grows, so a bucket dropped early would be dropped now as well.
        newest = max(fps_buckets)
        low = newest - config.fps_window_s
        changes["fps_buckets"] = tuple(sorted((s, c) for s, c in fps_buckets.items() if s > low))
    return evolve(state, **changes)


def tick(state: HealthState, now: float, config: HealthConfig) -> HealthState:
    """Let time pass: go offline when no sign of life came for ``offline_after_s``."""
    silent = state.last_frame_at is None or now - state.last_frame_at >= config.offline_after_s
    if state.online and silent:
        return evolve(state, online=False, frames_toward_online=0, version=state.version + 1)
    return state


def with_breaker(state: HealthState, breaker_state: State) -> HealthState:
    """Record the camera's breaker state."""
    if state.breaker_state is breaker_state:
        return state
    return evolve(state, breaker_state=breaker_state, version=state.version + 1)


def snapshot(state: HealthState, now: float, config: HealthConfig) -> HealthSnapshot:
    """The camera's health as seen at ``now`` (applies :func:`tick` first)."""
    state = tick(state, now, config)
    return HealthSnapshot(
        camera_id=state.camera_id,
        org_id=state.org_id,
        online=state.online,
        last_seen=state.last_seen,
        frames_processed=state.frames_processed,
        errors_count=state.errors_count,
        avg_latency_ms=state.avg_latency_ms or 0.0,
        p95_latency_ms=percentile(state, 0.95),
        fps=fps(state, now, config),
        circuit_breaker_state=state.breaker_state,
        observed_at=now,
    )
