"""One camera's breaker and health from CameraEvent records, frame outcomes and replays."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from streams.codec import AvroCodec
from streams.contract.records import EventKind
from streams.resilience.breaker import BreakerState, CircuitBreakerConfig, State
from streams.resilience.camera import (
    REPLAY_WINDOW,
    CameraConfig,
    SourcePosition,
    admit_frame,
    already_applied,
    apply_frame_outcome,
    apply_observation,
    observation_from_record,
    transition_record,
)
from streams.resilience.exceptions import InvalidEventError
from streams.resilience.health import HealthState, snapshot
from streams.settings import Settings

NOW = 1_700_000_000.0
CONFIG = CameraConfig(breaker=CircuitBreakerConfig(jitter_ratio=0.0))


def record(kind: str, at: float = NOW, latency: float | None = 4.0) -> dict[str, object]:
    return {
        "event_id": "e",
        "camera_id": "cam-1",
        "org_id": "org-1",
        "occurred_at": datetime.fromtimestamp(at, tz=UTC),
        "kind": kind,
        "latency_ms": latency,
        "error": None,
        "attributes": {},
    }


def fold(kinds: list[str]) -> tuple[BreakerState, HealthState, list[str]]:
    breaker, health, moves = BreakerState(), HealthState("cam-1"), []
    for i, kind in enumerate(kinds):
        obs = observation_from_record(record(kind, NOW + i), NOW + i, CONFIG.max_skew_s)
        update = apply_observation(breaker, health, obs, NOW + i, CONFIG, random.Random(0))
        breaker, health = update.breaker, update.health
        moves += [f"{m.from_state}->{m.to_state}:{m.reason}" for m in update.transitions]
    return breaker, health, moves


def test_failures_trip_and_health_shows_the_breaker() -> None:
    breaker, health, moves = fold(["FRAME_OK"] * 3 + ["FRAME_ERROR"] * 4 + ["ERROR"])
    assert breaker.state is State.OPEN
    assert moves == ["CLOSED->OPEN:failure_threshold"]
    assert (health.frames_processed, health.errors_count, health.events) == (3, 5, 8)
    assert health.breaker_state is State.OPEN
    assert health.org_id == "org-1"


def test_connection_events_touch_health_only() -> None:
    breaker, health, _ = fold(["HEARTBEAT"] * 3 + ["DISCONNECTED", "CONNECTED"])
    assert (breaker.successes, breaker.failures) == (3, 0)
    assert not health.online


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (record("FRAME_OK", latency=-2.0), "negative_latency"),
        (record("FRAME_OK", at=NOW + 3 * 86_400), "timestamp_skew"),
        (record("FRAME_OK", at=NOW - 3 * 86_400), "timestamp_skew"),
        ({**record("FRAME_OK"), "occurred_at": "yesterday"}, "invalid"),
    ],
)
def test_bad_records_are_refused_with_a_reason(rec: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        observation_from_record(rec, NOW, 86_400)
    assert caught.value.reason == reason
    assert caught.value.status == 422


def test_epoch_millis_are_accepted() -> None:
    obs = observation_from_record({**record("HEARTBEAT"), "occurred_at": NOW * 1000}, NOW, 60)
    assert obs.at == NOW
    assert obs.kind is EventKind.HEARTBEAT


def test_the_frames_path_is_refused_while_open_and_counted() -> None:
    rng, breaker, health = random.Random(0), BreakerState(), HealthState("cam-1")
    for i in range(5):
        update = apply_frame_outcome(breaker, health, False, 9.0, NOW + i, CONFIG, rng, "decode")
        breaker, health = update.breaker, update.health
    decision, breaker, _ = admit_frame(breaker, NOW + 10, CONFIG, rng)
    assert (decision.allowed, decision.reason) == (False, "open")
    assert breaker.rejected_count("open") == 1
    decision, breaker, moves = admit_frame(breaker, NOW + 64, CONFIG, rng)
    assert (decision.allowed, decision.reason) == (True, "probe")
    assert [m.reason for m in moves] == ["recovery_timeout"]
    assert health.errors_count == 5


def test_replays_are_recognised_within_the_window_only() -> None:
    offsets = {"camera.events": 5000}
    assert already_applied(offsets, SourcePosition("camera.events", 5000))
    assert already_applied(offsets, SourcePosition("camera.events", 4000))
    assert not already_applied(offsets, SourcePosition("camera.events", 5001))
    assert not already_applied(offsets, SourcePosition("camera.frames", 10))
    far = {"camera.events": REPLAY_WINDOW + 10}
    assert not already_applied(far, SourcePosition("camera.events", 3)), "topic was recreated"


@pytest.mark.parametrize("held", [(True, False), (False, True)])
def test_a_row_that_holds_the_outcome_is_left_as_it_is(held: tuple[bool, bool]) -> None:
    breaker, health = BreakerState(successes=3), HealthState("cam-1", frames_processed=3)
    update = apply_frame_outcome(
        breaker, health, True, 5.0, NOW, CONFIG, random.Random(0), held=held
    )
    held_breaker, held_health = held
    assert update.breaker.successes == (3 if held_breaker else 4)
    assert update.health.frames_processed == (3 if held_health else 4)


def test_transition_record_is_a_valid_breaker_transition() -> None:
    breaker = BreakerState()
    for i in range(5):
        obs = observation_from_record(record("FRAME_ERROR", NOW + i), NOW + i, 86_400)
        update = apply_observation(breaker, HealthState("c"), obs, NOW + i, CONFIG, random.Random())
        breaker = update.breaker
    rec = transition_record("cam-1", update.transitions[0])
    assert rec == {
        "camera_id": "cam-1",
        "from_state": "CLOSED",
        "to_state": "OPEN",
        "reason": "failure_threshold",
        "at": round((NOW + 4) * 1000),
        "retry_after_ms": 60_000,
        "consecutive_failures": 5,
    }
    codec = AvroCodec()
    assert codec.decode_as("BreakerTransition", codec.encode("BreakerTransition", rec))["at"]
    snap = snapshot(update.health, NOW + 5, CONFIG.health)
    health = codec.decode_as("CameraHealth", codec.encode("CameraHealth", snap.to_record()))
    assert health["circuit_breaker_state"] == "OPEN"
    assert health["errors_count"] == 1


def test_config_from_settings() -> None:
    config = CameraConfig.from_settings(
        Settings(breaker_failure_threshold=2, offline_after_s=5, breaker_jitter_ratio=0)
    )
    assert config.breaker.failure_threshold == 2
    assert config.breaker.jitter_ratio == 0
    assert config.health.offline_after_s == 5
