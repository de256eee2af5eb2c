"""The breaker state machine against a table of scenarios, driven by a hand-moved clock."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

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
    effective_state,
    step,
)

NO_JITTER = CircuitBreakerConfig(jitter_ratio=0.0, recovery_timeout_s=60.0)
F, S, A = Failure(), Success(), Acquire()


@dataclass(frozen=True)
class Row:
    """At time ``t`` apply ``event``; expect ``state`` and the transitions' reasons.

    For an Acquire row, ``allowed`` is what the caller was told.
    """

    t: float
    event: BreakerEvent
    state: State
    moves: tuple[str, ...] = ()
    allowed: bool | None = None


def failures(t0: float, n: int, last: State = State.OPEN) -> list[Row]:
    rows = [Row(t0 + i, F, State.CLOSED) for i in range(n - 1)]
    return [*rows, Row(t0 + n - 1, F, last, ("failure_threshold",) if last is State.OPEN else ())]


SCENARIOS: dict[str, tuple[CircuitBreakerConfig, list[Row]]] = {
    "trips after five consecutive failures": (NO_JITTER, failures(0, 5)),
    "a success resets the consecutive count": (
        NO_JITTER,
        [*failures(0, 4, State.CLOSED), Row(4, S, State.CLOSED), *failures(5, 4, State.CLOSED)],
    ),
    "open refuses calls until the recovery timeout": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(10, A, State.OPEN, allowed=False),
            Row(63.9, A, State.OPEN, allowed=False),
            Row(64, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
        ],
    ),
    "three half-open successes close it": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(70, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
            Row(71, S, State.HALF_OPEN),
            Row(72, A, State.HALF_OPEN, allowed=True),
            Row(73, S, State.HALF_OPEN),
            Row(74, A, State.HALF_OPEN, allowed=True),
            Row(75, S, State.CLOSED, ("probe_success",)),
            Row(76, A, State.CLOSED, allowed=True),
        ],
    ),
    "a half-open failure reopens with a doubled timeout": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(64, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
            Row(65, F, State.OPEN, ("probe_failure",)),
            Row(65 + 119, A, State.OPEN, allowed=False),
            Row(65 + 120, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
        ],
    ),
    "the probe cap refuses a second concurrent probe": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(64, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
            Row(65, A, State.HALF_OPEN, allowed=False),
            Row(66, S, State.HALF_OPEN),
            Row(67, A, State.HALF_OPEN, allowed=True),
        ],
    ),
    "a lost probe frees its slot after the probe timeout": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(64, A, State.HALF_OPEN, ("recovery_timeout",), allowed=True),
            Row(93.9, A, State.HALF_OPEN, allowed=False),
            Row(94, A, State.HALF_OPEN, allowed=True),
        ],
    ),
    "force-open is sticky past any timeout": (
        NO_JITTER,
        [
            Row(0, ForceOpen(), State.OPEN, ("forced",)),
            Row(10_000, A, State.OPEN, allowed=False),
            Row(10_001, S, State.OPEN),
            Row(10_002, ForceClose(), State.CLOSED, ("forced",)),
            Row(10_003, A, State.CLOSED, allowed=True),
        ],
    ),
    "force-close forgets failures and backoff": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(5, ForceClose(), State.CLOSED, ("forced",)),
            *failures(6, 4, State.CLOSED),
        ],
    ),
    "failure rate over the window trips with no long streak": (
        CircuitBreakerConfig(
            jitter_ratio=0.0, failure_rate_threshold=0.5, window_size=4, min_calls=4
        ),
        [
            Row(0, F, State.CLOSED),
            Row(1, S, State.CLOSED),
            Row(2, S, State.CLOSED),
            Row(3, F, State.OPEN, ("failure_rate",)),
        ],
    ),
    "the failure rate waits for the minimum number of calls": (
        CircuitBreakerConfig(failure_rate_threshold=0.5, window_size=10, min_calls=5),
        [Row(0, F, State.CLOSED), Row(1, S, State.CLOSED), Row(2, F, State.CLOSED)],
    ),
    "slow calls count as failures": (
        CircuitBreakerConfig(jitter_ratio=0.0, failure_threshold=2, slow_call_threshold_ms=500),
        [
            Row(0, Success(latency_ms=499), State.CLOSED),
            Row(1, Success(latency_ms=800), State.CLOSED),
            Row(2, Success(latency_ms=900), State.OPEN, ("failure_threshold",)),
        ],
    ),
    "an outcome after the timeout without a probe counts as the probe": (
        NO_JITTER,
        [
            *failures(0, 5),
            Row(100, S, State.HALF_OPEN, ("recovery_timeout",)),
            Row(101, S, State.HALF_OPEN),
            Row(102, S, State.CLOSED, ("probe_success",)),
        ],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str) -> None:
    config, rows = SCENARIOS[name]
    state, rng = BreakerState(), random.Random(7)
    for row in rows:
        if row.allowed is not None:
            assert admission(state, row.t, config).allowed is row.allowed, (name, row)
        state, moves = step(state, row.event, row.t, config, rng)
        assert state.state is row.state, (name, row)
        assert tuple(m.reason for m in moves) == row.moves, (name, row)


def test_refused_calls_are_counted_by_reason() -> None:
    state = BreakerState()
    for t in range(5):
        state, _ = step(state, F, t, NO_JITTER)
    for t in range(10, 13):
        state, _ = step(state, A, t, NO_JITTER)
    state, _ = step(state, ForceOpen(), 20, NO_JITTER)
    state, _ = step(state, A, 21, NO_JITTER)
    assert dict(state.rejected) == {"open": 3, "forced_open": 1}
    assert state.rejected_count() == 4


@pytest.mark.parametrize("seed", range(20))
def test_backoff_grows_per_trip_within_bounded_jitter(seed: int) -> None:
    config = CircuitBreakerConfig(
        recovery_timeout_s=10, backoff_multiplier=2, max_recovery_timeout_s=100, jitter_ratio=0.2
    )
    rng, state, now = random.Random(seed), BreakerState(), 0.0
    for _ in range(5):
        state, _ = step(state, F, now, config, rng)
    waits = []
    for trip in range(1, 8):
        assert state.state is State.OPEN
        assert state.retry_at is not None
        wait = state.retry_at - now
        backoff = min(100.0, 10.0 * 2 ** (trip - 1))
        assert 0.8 * backoff - 1e-9 <= wait <= min(100.0, 1.2 * backoff) + 1e-9
        waits.append(wait)
        now = state.retry_at
        state, _ = step(state, A, now, config, rng)
        state, moves = step(state, F, now, config, rng)
        assert [m.reason for m in moves] == ["probe_failure"]
        assert moves[0].retry_after_s == pytest.approx(state.retry_at - now)  # type: ignore[operator]
    assert waits[:4] == sorted(waits[:4])  # +-20 % jitter never undoes a doubling
    assert config.backoff_ceiling(7) == 100.0


@pytest.mark.parametrize("seed", range(50))
def test_the_spec_breaker_first_opens_for_about_the_recovery_timeout(seed: int) -> None:
    """``CircuitBreakerConfig(failure_threshold=5, recovery_timeout=60, success_threshold=3)``."""
    config = CircuitBreakerConfig(failure_threshold=5, recovery_timeout_s=60.0, success_threshold=3)
    state, rng = BreakerState(), random.Random(seed)
    for t in range(5):
        state, moves = step(state, F, t, config, rng)
    assert state.retry_at is not None
    assert 54.0 <= state.retry_at - 4 <= 66.0  # the default jitter: +-10 %
    assert moves[0].retry_after_s == pytest.approx(state.retry_at - 4)
    assert admission(state, 4 + 50.0, config).allowed is False


def test_jitter_bounds_are_exact_at_the_extreme_draws() -> None:
    config = CircuitBreakerConfig(recovery_timeout_s=60, max_recovery_timeout_s=100)
    assert config.recovery_wait(1, 0.0) == pytest.approx(54.0)
    assert config.recovery_wait(1, 0.5) == pytest.approx(60.0)
    assert config.recovery_wait(1, 0.999999) == pytest.approx(66.0, abs=1e-3)
    assert config.recovery_wait(2, 0.999999) == 100.0  # 132 s capped at the maximum
    full = CircuitBreakerConfig(recovery_timeout_s=60, jitter_ratio=1.0)
    assert full.recovery_wait(1, 0.0) == 1e-3  # never zero


def test_jitter_is_reproducible_from_the_seed() -> None:
    def trip_wait(seed: int) -> float:
        state = BreakerState()
        for t in range(5):
            state, _ = step(state, F, t, CircuitBreakerConfig(), random.Random(seed))
        assert state.retry_at is not None
        return state.retry_at - 4

    assert trip_wait(1) == trip_wait(1)
    assert trip_wait(1) != trip_wait(2)


def test_no_jitter_waits_exactly_the_timeout_and_effective_state_follows_the_clock() -> None:
    state = BreakerState()
    for t in range(5):
        state, _ = step(state, F, t, NO_JITTER, random.Random(0))
    assert state.retry_at == 64.0
    assert effective_state(state, 63.0) is State.OPEN
    assert effective_state(state, 64.0) is State.HALF_OPEN
    assert admission(state, 63.0, NO_JITTER).retry_after_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"failure_rate_threshold": 1.5},
        {"window_size": 5, "min_calls": 6},
        {"recovery_timeout_s": 0},
        {"backoff_multiplier": 0.5},
        {"recovery_timeout_s": 10, "max_recovery_timeout_s": 5},
        {"jitter_ratio": 2},
        {"half_open_max_probes": 0},
    ],
)
def test_invalid_config_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreakerConfig(**kwargs)  # type: ignore[arg-type]
