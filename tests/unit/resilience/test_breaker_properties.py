"""Invariants of the breaker under any sequence of events (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.resilience.breaker import (
    Acquire,
    BreakerEvent,
    BreakerState,
    CircuitBreakerConfig,
    Failure,
    ForceClose,
    ForceOpen,
    State,
    Success,
    admission,
    step,
)
from streams.resilience.serde import breaker_from_dict, breaker_to_dict

CONFIG = CircuitBreakerConfig(
    failure_threshold=3,
    failure_rate_threshold=0.5,
    window_size=6,
    min_calls=4,
    slow_call_threshold_ms=200,
    recovery_timeout_s=5,
    max_recovery_timeout_s=40,
    success_threshold=2,
    half_open_max_probes=2,
)

events = st.one_of(
    st.just(Acquire()),
    st.builds(Success, st.none() | st.floats(0, 400)),
    st.builds(Failure, st.sampled_from(["timeout", "error"])),
    st.just(ForceOpen()),
    st.just(ForceClose()),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), events), max_size=60), st.integers(0, 10**6))
def test_invariants_hold_for_any_history(
    history: list[tuple[float, BreakerEvent]], seed: int
) -> None:
    rng, state, now = random.Random(seed), BreakerState(), 0.0
    for dt, event in history:
        now += dt
        allowed = admission(state, now, CONFIG).allowed
        before = state
        state, moves = step(state, event, now, CONFIG, rng)
        assert state.probes_in_flight <= CONFIG.half_open_max_probes
        assert len(state.window) <= CONFIG.window_size
        if state.state is State.OPEN and not state.forced:
            assert state.retry_at is not None
            wait = state.retry_at - (state.opened_at or 0)
            backoff = CONFIG.backoff_ceiling(state.trips)
            assert 0 < wait <= CONFIG.max_recovery_timeout_s
            # bounded jitter: never much sooner (nor later) than the backoff of this trip
            low, high = (1 - CONFIG.jitter_ratio) * backoff, (1 + CONFIG.jitter_ratio) * backoff
            assert low - 1e-9 <= wait <= high + 1e-9
        if isinstance(event, Acquire) and not allowed:
            assert state.rejected_count() == before.rejected_count() + 1
        for move in moves:
            assert move.from_state is not move.to_state or move.reason == "forced"
        if moves:
            assert moves[-1].to_state is state.state
        assert breaker_from_dict(breaker_to_dict(state)) == state
