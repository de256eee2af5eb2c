"""``observe_many`` (the events agent's batch fold) equals ``observe`` item by item."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.resilience.breaker import State
from streams.resilience.health import (
    EventKind,
    HealthConfig,
    HealthState,
    Observation,
    observe,
    observe_many,
    with_breaker,
)

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
