"""One camera's breaker and health, updated together from a ``CameraEvent`` (pure).

The events agent decodes a record, calls :func:`observation_from_record` (which refuses bad
input with :class:`InvalidEventError`, dead-lettered by the agent) and then
:func:`apply_observation`. The frames path asks :func:`admit_frame` before working on a frame
and reports with :func:`apply_frame_outcome`. Kinds map onto the breaker as the
``CameraEvent`` schema says: FRAME_OK and HEARTBEAT are successes, FRAME_ERROR and ERROR are
failures, CONNECTED and DISCONNECTED only touch health.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.contract.records import EventKind
from streams.resilience.breaker import (
    Acquire,
    Admission,
    BreakerEvent,
    BreakerState,
    CircuitBreakerConfig,
    Failure,
    Success,
    Transition,
    admission,
    step,
)
from streams.resilience.exceptions import InvalidEventError
from streams.resilience.health import (
    FAILURES,
    SUCCESSES,
    HealthConfig,
    HealthState,
    Observation,
    observe_many,
    rejection_reason,
)
from streams.settings import Settings


@dataclass(frozen=True)
class CameraConfig:
    """Breaker and health thresholds for every camera, and the accepted clock skew."""

    breaker: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    max_skew_s: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CameraConfig:
        """The configuration a worker runs with."""
        breaker = CircuitBreakerConfig(
            failure_threshold=settings.breaker_failure_threshold,
            failure_rate_threshold=settings.breaker_failure_rate_threshold,
            window_size=settings.breaker_window_size,
            min_calls=settings.breaker_min_calls,
            slow_call_threshold_ms=settings.breaker_slow_call_ms,
            recovery_timeout_s=settings.breaker_recovery_timeout_s,
            backoff_multiplier=settings.breaker_backoff_multiplier,
            max_recovery_timeout_s=max(
                settings.breaker_max_recovery_timeout_s, settings.breaker_recovery_timeout_s
            ),
            jitter_ratio=settings.breaker_jitter_ratio,
            success_threshold=settings.breaker_success_threshold,
            half_open_max_probes=settings.breaker_half_open_max_probes,
        )
        health = HealthConfig(
            offline_after_s=settings.offline_after_s,
            online_after_frames=settings.online_after_frames,
        )
        return cls(breaker, health, settings.max_clock_skew_s)


REPLAY_WINDOW = 1_000_000
"""Offsets at most this far behind the last one folded in are replays; further back means
the topic was recreated (offsets started again), and the message is folded in."""


@dataclass(frozen=True)
class SourcePosition:
    """Where a message came from: its topic and offset (the partition follows from the key)."""

    topic: str
    offset: int


def replay_window(offsets: Mapping[str, int], topic: str) -> tuple[int, int]:
    """Offsets of ``topic`` a row holding ``offsets`` has folded in, as ``(low, high)``.

    Empty (``low > high``) when the row never saw ``topic``.
    """
    last = offsets.get(topic)
    if last is None:
        return 0, -1
    return last - REPLAY_WINDOW, last


def already_applied(offsets: Mapping[str, int], position: SourcePosition) -> bool:
    """Whether the message at ``position`` was folded in already (a replay after a crash)."""
    low, high = replay_window(offsets, position.topic)
    return low <= position.offset <= high


@dataclass(frozen=True)
class CameraRecord:
    """A camera's two rows: states and the source offsets already folded into each."""

    breaker: BreakerState
    health: HealthState
    breaker_offsets: Mapping[str, int] = field(default_factory=dict)
    health_offsets: Mapping[str, int] = field(default_factory=dict)

    def applied(self, position: SourcePosition | None) -> bool:
        """Whether the message at ``position`` is already in both rows (a replay)."""
        return all(self.holds(position))

    def holds(self, position: SourcePosition | None) -> tuple[bool, bool]:
        """Whether the breaker row and the health row each hold the message at ``position``.

        Each row is replay-safe on its own, because the two may disagree: the rows' changelog
        records are two sends, and a worker can die between them (``at_least_once``), or a
        transaction can be committed between them and the next one given up at a rebalance
        (``exactly_once``). A message the breaker row holds and the health row lacks is then
        folded into health only; requiring both rows to hold it counted it twice in the
        breaker (tests/integration/test_events_lane.py, CI on 2026-12-02).
        """
        if position is None:
            return False, False
        return (
            already_applied(self.breaker_offsets, position),
            already_applied(self.health_offsets, position),
        )

    def replay_windows(self, topic: str) -> tuple[tuple[int, int], tuple[int, int]]:
        """Offsets of ``topic`` the breaker row and the health row hold, each ``(low, high)``.

        For a loop over many messages of one camera: ``low <= offset <= high`` per row is
        :meth:`holds` without building a position per message.
        """
        return replay_window(self.breaker_offsets, topic), replay_window(self.health_offsets, topic)


@dataclass(frozen=True)
class CameraUpdate:
    """The result of one observation: both new states and the breaker's transitions."""

    breaker: BreakerState
    health: HealthState
    transitions: tuple[Transition, ...]


def _epoch_s(value: object) -> float:
    if type(value) is int:  # epoch ms, as decoded without logical types (the events agent)
        return value / 1000.0
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value) / 1000.0
    raise InvalidEventError("invalid", f"occurred_at is not a timestamp: {value!r}")


_KINDS = {kind.value: kind for kind in EventKind}


def key_text(key: object) -> str | None:
    """A message key as text (None for none)."""
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key).decode("utf-8", errors="replace")
    return None if key is None else str(key)


def check_key(key: object, camera_id: str) -> None:
    """Refuse a message whose key is not its camera_id (it would land in another partition)."""
    if key_text(key) != camera_id:
        raise InvalidEventError("key_mismatch", f"key {key!r} is not camera_id {camera_id!r}")


def observation_from_record(
    record: Mapping[str, Any], now: float, max_skew_s: float
) -> Observation:
    """The observation in a decoded ``CameraEvent``, or :class:`InvalidEventError`."""
    at = _epoch_s(record["occurred_at"])
    latency = record.get("latency_ms")
    reason = rejection_reason(at, latency, now, max_skew_s)
    if reason is not None:
        detail = f"occurred_at={at:.3f} now={now:.3f} latency_ms={latency!r}"
        raise InvalidEventError(reason, f"{record.get('camera_id')!r}: {reason} ({detail})")
    try:
        kind = _KINDS[record["kind"]]
    except KeyError:
        raise InvalidEventError("invalid", f"unknown kind {record['kind']!r}") from None
    return Observation(kind, at, latency, record.get("org_id"))


def breaker_event(obs: Observation, error: str | None = None) -> BreakerEvent | None:
    """What ``obs`` means to the camera's breaker, if anything."""
    if obs.kind in SUCCESSES:
        return Success(obs.latency_ms)
    if obs.kind in FAILURES:
        return Failure((error or obs.kind.value.lower())[:200])
    return None


def apply_observation(
    breaker: BreakerState,
    health: HealthState,
    obs: Observation,
    now: float,
    config: CameraConfig,
    rng: random.Random,
    error: str | None = None,
    *,
    held: tuple[bool, bool] = (False, False),
) -> CameraUpdate:
    """Fold ``obs`` into the camera's breaker (at ``now``) and health.

    ``held`` says which rows (breaker, health) hold the message already
    (:meth:`CameraRecord.holds`): those are left as they are.
    """
    moves: tuple[Transition, ...] = ()
    held_breaker, held_health = held
    event = None if held_breaker else breaker_event(obs, error)
    if event is not None:
        breaker, moves = step(breaker, event, now, config.breaker, rng)
    if not held_health:
        health = observe_many(health, ((obs, breaker.state),), config.health)
    return CameraUpdate(breaker, health, moves)


def admit_frame(
    breaker: BreakerState, now: float, config: CameraConfig, rng: random.Random
) -> tuple[Admission, BreakerState, tuple[Transition, ...]]:
    """Ask the camera's breaker whether a frame may be processed now (refusals are counted)."""
    decision = admission(breaker, now, config.breaker)
    breaker, moves = step(breaker, Acquire(), now, config.breaker, rng)
    return decision, breaker, moves


def apply_frame_outcome(
    breaker: BreakerState,
    health: HealthState,
    ok: bool,
    latency_ms: float | None,
    now: float,
    config: CameraConfig,
    rng: random.Random,
    error: str | None = None,
    *,
    held: tuple[bool, bool] = (False, False),
) -> CameraUpdate:
    """Record a processed frame's outcome like a FRAME_OK / FRAME_ERROR event at ``now``."""
    kind = EventKind.FRAME_OK if ok else EventKind.FRAME_ERROR
    obs = Observation(kind, now, latency_ms)
    return apply_observation(breaker, health, obs, now, config, rng, error, held=held)


def transition_record(camera_id: str, move: Transition) -> dict[str, Any]:
    """The ``BreakerTransition`` Avro record of ``move`` (epoch milliseconds)."""
    return {
        "camera_id": camera_id,
        "from_state": move.from_state.value,
        "to_state": move.to_state.value,
        "reason": move.reason,
        "at": round(move.at * 1000),
        "retry_after_ms": None if move.retry_after_s is None else round(move.retry_after_s * 1000),
        "consecutive_failures": move.consecutive_failures,
    }
