"""The events agent's batch folds equal the per-event folds they replace (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.records import EventKind
from streams.resilience.breaker import (
    BreakerState,
    CircuitBreakerConfig,
    Failure,
    State,
    Success,
    closed_success_run_ok,
    step,
    successes_while_closed,
)
from streams.resilience.camera import SourcePosition, already_applied
from streams.resilience.health import (
    HealthConfig,
    HealthState,
    Observation,
    observe,
    observe_many,
    with_breaker,
)
from streams.resilience.tables import CameraRecord

# Small limits so that halving, pruning, hysteresis and gaps all happen in short sequences.
CONFIG = HealthConfig(
    offline_after_s=5.0, online_after_frames=3, fps_window_s=3, histogram_max_count=12
)

observations = st.builds(
    Observation,
    st.sampled_from(list(EventKind)),
    st.floats(1_000.0, 1_030.0),  # out of order on purpose
    st.none() | st.floats(0.0, 5_000.0),
    st.none() | st.sampled_from(["org-a", "org-b"]),
)
items = st.lists(st.tuples(observations, st.sampled_from(list(State))), max_size=60)


def one_by_one(state: HealthState, batch: list[tuple[Observation, State]]) -> HealthState:
    for obs, breaker_state in batch:
        state = with_breaker(observe(state, obs, CONFIG), breaker_state)
    return state


@settings(max_examples=400, deadline=None)
@given(items, items)
def test_batch_fold_equals_sequential_fold(
    warmup: list[tuple[Observation, State]], batch: list[tuple[Observation, State]]
) -> None:
    start = one_by_one(HealthState("cam-1"), warmup)  # any reachable state
    assert observe_many(start, batch, CONFIG) == one_by_one(start, batch)


def test_empty_batch_changes_nothing() -> None:
    state = one_by_one(
        HealthState("cam-1"), [(Observation(EventKind.FRAME_OK, 1.0, 3.0), State.OPEN)]
    )
    assert observe_many(state, [], CONFIG) == state


BREAKER_CONFIGS = [
    CircuitBreakerConfig(failure_threshold=3),
    CircuitBreakerConfig(
        failure_threshold=4, failure_rate_threshold=0.5, window_size=5, min_calls=2
    ),
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(BREAKER_CONFIGS),
    st.lists(st.booleans(), max_size=12),
    st.integers(0, 15),
)
def test_success_run_equals_successes_one_by_one(
    config: CircuitBreakerConfig, history: list[bool], count: int
) -> None:
    state, now = BreakerState(), 100.0
    for failed in history:  # a closed breaker with some history (it may have opened)
        event = Failure("error") if failed else Success(1.0)
        state, _ = step(state, event, now, config, random.Random(0))
    if not closed_success_run_ok(state, config):
        return
    expected = state
    for _ in range(count):
        expected, moves = step(expected, Success(2.0), now, config, random.Random(0))
        assert moves == ()
    assert successes_while_closed(state, count, config) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.none() | st.integers(0, 3_000_000),
    st.none() | st.integers(0, 3_000_000),
    st.integers(0, 3_000_000),
)
def test_each_row_holds_what_its_own_offsets_say(
    breaker_last: int | None, health_last: int | None, offset: int
) -> None:
    topic = "camera.events"
    record = CameraRecord(
        BreakerState(),
        HealthState("cam-1"),
        {} if breaker_last is None else {topic: breaker_last},
        {} if health_last is None else {topic: health_last},
    )
    position = SourcePosition(topic, offset)
    in_breaker = already_applied(record.breaker_offsets, position)
    in_health = already_applied(record.health_offsets, position)
    assert record.holds(position) == (in_breaker, in_health)
    (b_low, b_high), (h_low, h_high) = record.replay_windows(topic)
    assert (b_low <= offset <= b_high, h_low <= offset <= h_high) == (in_breaker, in_health)
    assert record.applied(position) == (in_breaker and in_health)
