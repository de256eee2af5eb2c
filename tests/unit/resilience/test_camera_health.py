"""Health aggregation and online/offline hysteresis, driven by a hand-moved clock."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.records import EventKind
from streams.resilience.breaker import State
from streams.resilience.health import (
    HISTOGRAM_BASE_MS,
    HISTOGRAM_BUCKETS,
    HISTOGRAM_GROWTH,
    HealthConfig,
    HealthState,
    Observation,
    bucket_of,
    observe,
    percentile,
    rejection_reason,
    snapshot,
    tick,
    with_breaker,
)
from streams.resilience.serde import health_from_dict, health_to_dict

CONFIG = HealthConfig(offline_after_s=60, online_after_frames=3, ewma_alpha=0.5, fps_window_s=10)
T0 = 1_700_000_000.0


def frames(state: HealthState, times: list[float], latency: float | None = None) -> HealthState:
    for t in times:
        state = observe(state, Observation(EventKind.FRAME_OK, t, latency), CONFIG)
    return state


def test_new_camera_comes_online_after_n_frames() -> None:
    state = HealthState("cam-1")
    seen = []
    for t in (0, 1, 2, 3):
        state = frames(state, [T0 + t])
        seen.append(state.online)
    assert seen == [False, False, True, True]


def test_goes_offline_after_silence_and_needs_n_frames_to_return() -> None:
    state = frames(HealthState("cam-1"), [T0, T0 + 1, T0 + 2])
    assert tick(state, T0 + 61.9, CONFIG).online
    state = tick(state, T0 + 62, CONFIG)
    assert not state.online
    state = frames(state, [T0 + 100, T0 + 101])
    assert not state.online
    state = frames(state, [T0 + 102])
    assert state.online


@pytest.mark.parametrize("period", [61.0, 90.0])
def test_a_flapping_camera_stays_offline(period: float) -> None:
    state = frames(HealthState("cam-1"), [T0, T0 + 1, T0 + 2])
    toggles, online = 0, state.online
    for i in range(1, 20):
        now = T0 + 2 + i * period
        state = tick(state, now - 0.5, CONFIG)
        state = frames(state, [now])
        toggles += state.online != online
        online = state.online
    assert toggles == 1
    assert not state.online


def test_silence_noticed_only_by_the_next_frame_still_resets_the_streak() -> None:
    state = frames(HealthState("cam-1"), [T0, T0 + 1, T0 + 2])
    state = frames(state, [T0 + 200])
    assert not state.online
    assert frames(state, [T0 + 201, T0 + 202]).online


def test_disconnected_is_offline_at_once_and_heartbeats_count_as_life() -> None:
    state = frames(HealthState("cam-1"), [T0, T0 + 1, T0 + 2])
    state = observe(state, Observation(EventKind.DISCONNECTED, T0 + 3), CONFIG)
    assert not state.online
    for t in (4, 5, 6):
        state = observe(state, Observation(EventKind.HEARTBEAT, T0 + t), CONFIG)
    assert state.online
    assert state.frames_processed == 3


def test_counters_latency_and_fps() -> None:
    state = HealthState("cam-1")
    for i in range(100):
        state = observe(state, Observation(EventKind.FRAME_OK, T0 + i / 10, 10.0, "org"), CONFIG)
    for t in (5, 6):
        state = observe(state, Observation(EventKind.FRAME_ERROR, T0 + t, 1000.0), CONFIG)
    state = observe(state, Observation(EventKind.ERROR, T0 + 7), CONFIG)
    snap = snapshot(state, T0 + 9.99, CONFIG)
    assert (snap.frames_processed, snap.errors_count, state.events) == (100, 3, 103)
    assert snap.fps == pytest.approx(10.2)
    assert snap.p95_latency_ms == pytest.approx(10.0, rel=0.1)
    assert snap.avg_latency_ms == pytest.approx(752.5)
    assert snap.org_id == "org"
    assert snap.last_seen == T0 + 9.9
    assert snapshot(state, T0 + 30, CONFIG).fps == 0.0


def test_ewma_follows_recent_latency() -> None:
    state = frames(HealthState("cam-1"), [T0 + i for i in range(20)], latency=100.0)
    state = frames(state, [T0 + 20 + i for i in range(20)], latency=10.0)
    assert state.avg_latency_ms == pytest.approx(10.0, rel=0.01)


def test_histogram_stays_bounded_and_p95_follows_recent_traffic() -> None:
    config = HealthConfig(histogram_max_count=1000)
    state = HealthState("cam-1")
    for i in range(5000):
        latency = 5.0 if i < 2500 else 400.0
        state = observe(state, Observation(EventKind.FRAME_OK, T0 + i, latency), config)
    assert sum(c for _, c in state.histogram) <= 1000
    assert len(state.histogram) <= 2
    assert percentile(state, 0.95) == pytest.approx(400, rel=0.1)
    assert percentile(HealthState("x"), 0.95) == 0.0


@pytest.mark.parametrize(
    ("at", "latency", "reason"),
    [
        (T0, -1.0, "negative_latency"),
        (T0, float("nan"), "non_finite_latency"),
        (T0 + 90_000, 1.0, "timestamp_skew"),
        (T0 - 90_000, None, "timestamp_skew"),
        (T0 + 10, 0.0, None),
    ],
)
def test_rejection_reasons(at: float, latency: float | None, reason: str | None) -> None:
    assert rejection_reason(at, latency, T0, 86_400) == reason


def test_breaker_state_and_versions_and_round_trip() -> None:
    state = frames(HealthState("cam-1"), [T0, T0 + 1], latency=3.0)
    moved = with_breaker(state, State.OPEN)
    assert moved.version == state.version + 1
    assert with_breaker(moved, State.OPEN) is moved
    assert snapshot(moved, T0 + 2, CONFIG).to_record()["circuit_breaker_state"] == "OPEN"
    assert health_from_dict(health_to_dict(moved)) == moved


@settings(max_examples=500, deadline=None)
@given(st.floats(0.0, 1e7) | st.sampled_from([0.5 * 1.2**i for i in range(90)]))
def test_bucket_of_is_the_log_base_growth_ceiling(latency_ms: float) -> None:
    if latency_ms <= HISTOGRAM_BASE_MS:
        expected = 0
    else:
        ratio = latency_ms / HISTOGRAM_BASE_MS
        expected = min(math.ceil(math.log(ratio, HISTOGRAM_GROWTH)), HISTOGRAM_BUCKETS - 1)
    assert bucket_of(latency_ms) == expected
