"""The circuit-breaker state machine as a pure function.

``step(state, event, now, config=..., rng=...) -> (new_state, transitions)`` is the whole
breaker: no clock, no I/O, no Faust. ``now`` is seconds on whatever clock the caller keeps
consistent (epoch seconds for breakers kept in a Faust table, since the state outlives the
process; ``time.monotonic()`` for an in-process
:class:`~streams.resilience.circuit.CircuitBreaker`).
Randomness (the jitter on the recovery timeout) comes from the ``rng`` passed in.

States and moves::

    CLOSED --(failure_threshold consecutive failures | failure rate over the window)--> OPEN
    OPEN --(first call or outcome after retry_at)--> HALF_OPEN
    HALF_OPEN --(success_threshold successes)--> CLOSED      (backoff resets)
    HALF_OPEN --(any failure)--> OPEN                         (recovery timeout grows)
    any --(ForceOpen)--> OPEN (sticky until ForceClose)   any --(ForceClose)--> CLOSED

A slow call (latency at or above ``slow_call_threshold_ms``) counts as a failure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from streams.resilience.evolve import evolve

_new = object.__new__
_set = object.__setattr__


class State(StrEnum):
    """Breaker states; the values are the Avro ``BreakerState`` symbols."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


_CLOSED, _OPEN = State.CLOSED, State.OPEN  # module constants: enum attribute lookups cost ~50 ns


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """How a breaker trips and recovers. Defaults follow the seed service."""

    failure_threshold: int = 5
    failure_rate_threshold: float | None = None
    """Trip when this fraction (0-1] of the last ``window_size`` calls failed; None = off."""
    window_size: int = 20
    min_calls: int = 10
    """The failure rate is only judged once the window holds this many calls."""
    slow_call_threshold_ms: float | None = None
    recovery_timeout_s: float = 60.0
    backoff_multiplier: float = 2.0
    max_recovery_timeout_s: float = 600.0
    jitter_ratio: float = 0.1
    """Bounded jitter: the wait is drawn uniformly within ``±jitter_ratio`` of the backoff
    (0.1: 54-66 s for a 60 s timeout), capped at ``max_recovery_timeout_s``; 0.0 = exactly
    the backoff. It spreads the probes of breakers tripped together without ever retrying
    much sooner than ``recovery_timeout_s`` (full jitter could retry after a fraction of a
    second)."""
    success_threshold: int = 3
    half_open_max_probes: int = 1
    probe_timeout_s: float = 30.0
    """A half-open probe not reported within this time is taken as lost (its worker died)."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.success_threshold < 1:
            raise ValueError("failure_threshold and success_threshold must be >= 1")
        if self.failure_rate_threshold is not None and not 0 < self.failure_rate_threshold <= 1:
            raise ValueError("failure_rate_threshold must be in (0, 1]")
        if self.window_size < 1 or not 1 <= self.min_calls <= self.window_size:
            raise ValueError("need 1 <= min_calls <= window_size")
        if self.recovery_timeout_s <= 0 or self.backoff_multiplier < 1:
            raise ValueError("recovery_timeout_s must be > 0 and backoff_multiplier >= 1")
        if self.max_recovery_timeout_s < self.recovery_timeout_s:
            raise ValueError("max_recovery_timeout_s must be >= recovery_timeout_s")
        if not 0 <= self.jitter_ratio <= 1:
            raise ValueError("jitter_ratio must be in [0, 1]")
        if self.half_open_max_probes < 1 or self.probe_timeout_s <= 0:
            raise ValueError("half_open_max_probes must be >= 1 and probe_timeout_s > 0")

    def backoff_ceiling(self, trips: int) -> float:
        """The recovery timeout before jitter after the ``trips``-th consecutive trip."""
        growth = self.backoff_multiplier ** max(trips - 1, 0)
        return min(self.max_recovery_timeout_s, self.recovery_timeout_s * growth)

    def recovery_wait(self, trips: int, draw: float) -> float:
        """How long the ``trips``-th consecutive trip stays open, for ``draw`` in [0, 1).

        ``draw`` 0.5 is the backoff itself; 0 and 1 its lower and upper jitter bounds. Never
        more than ``max_recovery_timeout_s``, never zero.
        """
        backoff = self.backoff_ceiling(trips)
        wait = backoff * (1.0 + self.jitter_ratio * (2.0 * draw - 1.0))
        return max(min(wait, self.max_recovery_timeout_s), 1e-3)


@dataclass(frozen=True)
class BreakerState:
    """Everything a breaker remembers; serialised with :mod:`streams.resilience.serde`."""

    state: State = State.CLOSED
    consecutive_failures: int = 0
    window: tuple[bool, ...] = ()
    """Outcomes of the last calls while closed, oldest first; True = failure."""
    trips: int = 0
    """Trips since the breaker last closed normally; drives the backoff growth."""
    opened_at: float | None = None
    retry_at: float | None = None
    half_open_successes: int = 0
    probes_in_flight: int = 0
    probe_started_at: float | None = None
    forced: bool = False
    changed_at: float | None = None
    successes: int = 0
    failures: int = 0
    rejected: tuple[tuple[str, int], ...] = ()
    """Calls refused, by reason (``open``, ``forced_open``, ``probe_limit``), sorted."""

    def rejected_count(self, reason: str | None = None) -> int:
        """How many calls were refused (for ``reason``, or in total)."""
        return sum(n for r, n in self.rejected if reason is None or r == reason)


@dataclass(frozen=True)
class Acquire:
    """A caller asks to make a call; see :func:`admission` for the answer."""


@dataclass(frozen=True)
class Success:
    """A call succeeded, taking ``latency_ms`` if measured."""

    latency_ms: float | None = None


@dataclass(frozen=True)
class Failure:
    """A call failed."""

    reason: str = "failure"


@dataclass(frozen=True)
class ForceOpen:
    """Open the breaker and keep it open until :class:`ForceClose`."""


@dataclass(frozen=True)
class ForceClose:
    """Close the breaker now and forget its history."""


BreakerEvent = Acquire | Success | Failure | ForceOpen | ForceClose


@dataclass(frozen=True)
class Transition:
    """A state change, the payload of a ``BreakerTransition`` record."""

    from_state: State
    to_state: State
    reason: str
    at: float
    retry_after_s: float | None
    consecutive_failures: int


@dataclass(frozen=True)
class Admission:
    """The answer to :class:`Acquire`: allowed, or refused with a reason and a wait."""

    allowed: bool
    reason: str
    retry_after_s: float | None = None


DEFAULT_CONFIG = CircuitBreakerConfig()


def admission(state: BreakerState, now: float, config: CircuitBreakerConfig) -> Admission:
    """Whether an :class:`Acquire` at ``now`` would be let through (reads, changes nothing)."""
    if state.state is State.CLOSED:
        return Admission(True, "closed")
    if state.state is State.OPEN:
        if state.forced:
            return Admission(False, "forced_open")
        if state.retry_at is not None and now < state.retry_at:
            return Admission(False, "open", state.retry_at - now)
        return Admission(True, "probe")
    if _live_probes(state, now, config) < config.half_open_max_probes:
        return Admission(True, "probe")
    return Admission(False, "probe_limit", config.probe_timeout_s)


def effective_state(state: BreakerState, now: float) -> State:
    """The state a caller would see: OPEN past its retry time reads as HALF_OPEN."""
    if state.state is State.OPEN and not state.forced and _recovery_due(state, now):
        return State.HALF_OPEN
    return state.state


def step(
    state: BreakerState,
    event: BreakerEvent,
    now: float,
    config: CircuitBreakerConfig = DEFAULT_CONFIG,
    rng: random.Random | None = None,
) -> tuple[BreakerState, tuple[Transition, ...]]:
    """Apply ``event`` at ``now``; return the new state and the transitions it caused.

    ``rng`` draws the jitter when the breaker opens; without one the wait is the backoff.
    """
    kind = type(event)
    if kind is Success and state.state is _CLOSED and config.slow_call_threshold_ms is None:
        return closed_success(state, config), ()  # the hot path: a success while closed
    if isinstance(event, ForceOpen):
        return _open(state, now, "forced", config, rng, forced=True)
    if isinstance(event, ForceClose):
        return _close(state, now, "forced")
    pre: tuple[Transition, ...] = ()
    if state.state is _OPEN and not state.forced and _recovery_due(state, now):
        state, pre = _half_open(state, now)
    if isinstance(event, Success):
        slow = config.slow_call_threshold_ms
        if slow is not None and event.latency_ms is not None and event.latency_ms >= slow:
            new, moved = _failure(state, now, "slow_call", config, rng)
        else:
            new, moved = _success(state, now, config)
    elif isinstance(event, Failure):
        new, moved = _failure(state, now, event.reason, config, rng)
    else:
        new, moved = _acquire(state, now, config)
    return new, pre + moved if pre else moved


def closed_success_run_ok(state: BreakerState, config: CircuitBreakerConfig) -> bool:
    """Whether successes now may be folded with :func:`successes_while_closed`."""
    return state.state is _CLOSED and config.slow_call_threshold_ms is None


def successes_while_closed(
    state: BreakerState, count: int, config: CircuitBreakerConfig
) -> BreakerState:
    """``count`` successes while closed, at once: what ``count`` :func:`step` calls give.

    Only when :func:`closed_success_run_ok` (closed, no slow-call threshold): then a success
    never causes a transition and does not read the clock, so a run of them folds into
    counters. The events agent defers each camera's run of successes to one call.
    """
    if count <= 0:
        return state
    if not closed_success_run_ok(state, config):
        raise ValueError("successes_while_closed needs a closed breaker without slow calls")
    window: tuple[bool, ...] = ()
    if config.failure_rate_threshold is not None:
        size = config.window_size
        window = (*state.window[-size:], *(False,) * min(count, size))[-size:]
    return evolve(state, successes=state.successes + count, consecutive_failures=0, window=window)


def closed_success(state: BreakerState, config: CircuitBreakerConfig) -> BreakerState:
    """One success while closed: what ``step(state, Success(), now, config)`` gives.

    Only when :func:`closed_success_run_ok`; then the success reads no clock and causes no
    transition. The copy is :func:`~streams.resilience.evolve.evolve` inlined (no keyword
    dict): this is the whole per-call cost of a guarded call that succeeds.
    """
    fields = state.__dict__.copy()
    fields["successes"] += 1
    fields["consecutive_failures"] = 0
    rate = config.failure_rate_threshold
    fields["window"] = () if rate is None else (*state.window, False)[-config.window_size :]
    new = _new(BreakerState)
    _set(new, "__dict__", fields)
    return new


def _window(
    window: tuple[bool, ...], failed: bool, config: CircuitBreakerConfig
) -> tuple[bool, ...]:
    if config.failure_rate_threshold is None:
        return ()  # nothing reads the window: do not pay for it per call
    return (*window, failed)[-config.window_size :]


def _recovery_due(state: BreakerState, now: float) -> bool:
    return state.retry_at is None or now >= state.retry_at


def _live_probes(state: BreakerState, now: float, config: CircuitBreakerConfig) -> int:
    started = state.probe_started_at
    if started is not None and now - started >= config.probe_timeout_s:
        return 0
    return state.probes_in_flight


def _with_rejection(state: BreakerState, reason: str) -> BreakerState:
    counts = dict(state.rejected)
    counts[reason] = counts.get(reason, 0) + 1
    return evolve(state, rejected=tuple(sorted(counts.items())))


def _acquire(
    state: BreakerState, now: float, config: CircuitBreakerConfig
) -> tuple[BreakerState, tuple[Transition, ...]]:
    decision = admission(state, now, config)
    if not decision.allowed:
        return _with_rejection(state, decision.reason), ()
    if state.state is State.HALF_OPEN:
        probes = _live_probes(state, now, config) + 1
        return evolve(state, probes_in_flight=probes, probe_started_at=now), ()
    return state, ()


def _success(
    state: BreakerState, now: float, config: CircuitBreakerConfig
) -> tuple[BreakerState, tuple[Transition, ...]]:
    if state.state is _CLOSED:
        return closed_success(state, config), ()
    if state.state is _OPEN:  # a late answer to a call made before the trip
        return evolve(state, successes=state.successes + 1), ()
    state = evolve(
        state,
        successes=state.successes + 1,
        half_open_successes=state.half_open_successes + 1,
        probes_in_flight=max(state.probes_in_flight - 1, 0),
    )
    if state.half_open_successes >= config.success_threshold:
        return _close(state, now, "probe_success")
    return state, ()


def _failure(
    state: BreakerState,
    now: float,
    reason: str,
    config: CircuitBreakerConfig,
    rng: random.Random | None,
) -> tuple[BreakerState, tuple[Transition, ...]]:
    failures, consecutive = state.failures + 1, state.consecutive_failures + 1
    if state.state is not State.CLOSED:
        state = evolve(state, failures=failures, consecutive_failures=consecutive)
        if state.state is State.HALF_OPEN:
            return _open(state, now, "probe_failure", config, rng)
        return state, ()
    window = _window(state.window, True, config)
    state = evolve(state, failures=failures, consecutive_failures=consecutive, window=window)
    if consecutive >= config.failure_threshold:
        return _open(state, now, "failure_threshold", config, rng)
    rate = config.failure_rate_threshold
    if rate is not None and len(window) >= config.min_calls and sum(window) / len(window) >= rate:
        return _open(state, now, "failure_rate", config, rng)
    return state, ()


def _open(
    state: BreakerState,
    now: float,
    reason: str,
    config: CircuitBreakerConfig,
    rng: random.Random | None,
    *,
    forced: bool = False,
) -> tuple[BreakerState, tuple[Transition, ...]]:
    trips = state.trips + 1
    wait = config.recovery_wait(trips, rng.random() if rng is not None else 0.5)
    new = evolve(
        state,
        state=State.OPEN,
        trips=trips,
        opened_at=now,
        retry_at=None if forced else now + wait,
        half_open_successes=0,
        probes_in_flight=0,
        probe_started_at=None,
        forced=forced,
        window=(),
        changed_at=now,
    )
    retry_after = None if forced else wait
    if state.state is State.OPEN and state.forced == forced:
        return new, ()
    move = Transition(state.state, State.OPEN, reason, now, retry_after, new.consecutive_failures)
    return new, (move,)


def _close(
    state: BreakerState, now: float, reason: str
) -> tuple[BreakerState, tuple[Transition, ...]]:
    new = evolve(
        state,
        state=State.CLOSED,
        consecutive_failures=0,
        window=(),
        trips=0,
        opened_at=None,
        retry_at=None,
        half_open_successes=0,
        probes_in_flight=0,
        probe_started_at=None,
        forced=False,
        changed_at=now,
    )
    if state.state is State.CLOSED:
        return new, ()
    move = Transition(state.state, State.CLOSED, reason, now, None, state.consecutive_failures)
    return new, (move,)


def _half_open(state: BreakerState, now: float) -> tuple[BreakerState, tuple[Transition, ...]]:
    new = evolve(
        state,
        state=State.HALF_OPEN,
        half_open_successes=0,
        probes_in_flight=0,
        probe_started_at=None,
        changed_at=now,
    )
    move = Transition(
        State.OPEN, State.HALF_OPEN, "recovery_timeout", now, None, state.consecutive_failures
    )
    return new, (move,)
