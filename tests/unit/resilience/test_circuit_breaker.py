"""The seed's CircuitBreaker API over the same core, with a hand-moved clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.resilience.breaker import CircuitBreakerConfig, State, Transition
from streams.resilience.circuit import CircuitBreaker
from streams.resilience.exceptions import CircuitOpenError
from tests.support.clock import FakeClock


def make(clock: FakeClock, **overrides: float) -> CircuitBreaker:
    config = CircuitBreakerConfig(jitter_ratio=0.0, **overrides)  # type: ignore[arg-type]
    return CircuitBreaker("store", config, clock=clock, rng=random.Random(1))


def state_of(breaker: CircuitBreaker) -> State:
    return breaker.state


def test_seed_api_trips_refuses_and_recovers() -> None:
    clock = FakeClock()
    breaker = make(clock)
    seen: list[tuple[str, Transition]] = []
    breaker.on_transition(lambda name, t: seen.append((name, t)))
    for _ in range(5):
        assert breaker.can_execute()
        breaker.record_failure()
    assert state_of(breaker) is State.OPEN
    assert not breaker.can_execute()
    assert breaker.retry_after == pytest.approx(60.0)
    clock.now += 60
    assert state_of(breaker) is State.HALF_OPEN
    for _ in range(3):
        assert breaker.can_execute()
        breaker.record_success()
    assert state_of(breaker) is State.CLOSED
    assert [(n, t.from_state, t.to_state) for n, t in seen] == [
        ("store", State.CLOSED, State.OPEN),
        ("store", State.OPEN, State.HALF_OPEN),
        ("store", State.HALF_OPEN, State.CLOSED),
    ]
    assert breaker.snapshot.rejected_count("open") == 1


def test_call_raises_circuit_open_with_retry_after_and_status_503() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=2)

    def broken() -> None:
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(broken)
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: 1)
    assert caught.value.status == 503
    assert caught.value.retriable
    assert caught.value.retry_after == pytest.approx(60.0)
    assert caught.value.retry_after_header == "60"


async def test_call_async_passes_results_and_records_latency() -> None:
    clock = FakeClock()
    breaker = make(clock, slow_call_threshold_ms=100, failure_threshold=1)

    async def slow(x: int) -> int:
        clock.now += 0.5
        return x * 2

    assert await breaker.call_async(slow, 21) == 42
    assert breaker.state is State.OPEN
    assert breaker.transitions[-1].reason == "failure_threshold"


def test_force_open_and_close() -> None:
    breaker = make(FakeClock())
    breaker.force_open()
    assert not breaker.can_execute()
    assert breaker.retry_after is None
    with pytest.raises(CircuitOpenError) as caught:
        breaker.call(lambda: None)
    assert caught.value.reason == "forced_open"
    assert caught.value.retry_after_header is None
    breaker.force_close()
    assert breaker.can_execute()


class BoomError(Exception):
    pass


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ok", "raise", "open_inside"]), st.floats(0, 50)),
        max_size=40,
    ),
    st.sampled_from([None, 0.5]),
)
def test_call_fast_path_equals_the_seed_api(
    history: list[tuple[str, float]], rate: float | None
) -> None:
    """call() (closed: no clock, closed_success inlined) = can_execute + record_* via step."""
    config = CircuitBreakerConfig(
        failure_threshold=3, failure_rate_threshold=rate, window_size=6, min_calls=4
    )
    clock = FakeClock()
    fast = CircuitBreaker("a", config, clock=clock, rng=random.Random(1))
    seed = CircuitBreaker("a", config, clock=clock, rng=random.Random(1))
    for outcome, wait in history:
        clock.now += wait

        def fn(breaker: CircuitBreaker, outcome: str = outcome) -> int:
            if outcome == "raise":
                raise BoomError
            if outcome == "open_inside":  # the breaker moves while the call runs
                breaker.force_open()
            return 7

        try:
            assert fast.call(fn, fast) == 7
        except (BoomError, CircuitOpenError) as exc:
            fast_refused = isinstance(exc, CircuitOpenError)
        else:
            fast_refused = False
        if not seed.can_execute():
            assert fast_refused
        else:
            assert not fast_refused
            try:
                fn(seed)
            except BoomError:
                seed.record_failure("BoomError")
            else:
                seed.record_success()
        assert fast.snapshot == seed.snapshot
        assert fast.transitions == seed.transitions
        if outcome == "open_inside":
            fast.force_close()
            seed.force_close()


def test_config_can_be_replaced() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.config = CircuitBreakerConfig(slow_call_threshold_ms=100, failure_threshold=1)

    def slow() -> None:
        clock.now += 0.5

    breaker.call(slow)
    assert breaker.state is State.OPEN
