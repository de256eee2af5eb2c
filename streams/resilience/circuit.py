"""An in-process circuit breaker object over the pure :func:`~streams.resilience.breaker.step`.

This is the seed service's API (``can_execute`` / ``record_success`` / ``record_failure``)
for guarding calls inside one process, e.g. a store or an HTTP dependency. Per-camera breakers
that must survive restarts live in the Faust ``breakers`` table instead and call ``step``
directly; both share the same state machine.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from streams.resilience.breaker import (
    Acquire,
    Admission,
    BreakerEvent,
    BreakerState,
    CircuitBreakerConfig,
    Failure,
    ForceClose,
    ForceOpen,
    State,
    Success,
    Transition,
    admission,
    closed_success,
    effective_state,
    step,
)
from streams.resilience.exceptions import CircuitOpenError

P = ParamSpec("P")
T = TypeVar("T")

TransitionListener = Callable[[str, Transition], None]
_SUCCESS = Success()
_CLOSED = State.CLOSED


class CircuitBreaker:
    """A named breaker with a clock (monotonic seconds by default) and a jitter source."""

    def __init__(
        self,
        name: str,
        config: CircuitBreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        state: BreakerState | None = None,
    ) -> None:
        self.name = name
        self.config = config or CircuitBreakerConfig()  # the setter below
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._state = state or BreakerState()
        self._listeners: list[TransitionListener] = []
        self.transitions: list[Transition] = []
        """Every transition since creation, oldest first (bounded to the last 100)."""

    @property
    def config(self) -> CircuitBreakerConfig:
        """How this breaker trips and recovers (frozen; assign a new one to change it)."""
        return self._config

    @config.setter
    def config(self, config: CircuitBreakerConfig) -> None:
        self._config = config
        # No slow-call threshold: a success needs no latency, so call() reads no clock.
        self._untimed = config.slow_call_threshold_ms is None

    @property
    def snapshot(self) -> BreakerState:
        """The breaker's full state (immutable)."""
        return self._state

    @property
    def state(self) -> State:
        """The state a caller sees now (OPEN past its retry time reads HALF_OPEN)."""
        return effective_state(self._state, self._clock())

    @property
    def retry_after(self) -> float | None:
        """Seconds until a call may be tried again, or None when calls are allowed."""
        return self.check().retry_after_s

    def on_transition(self, listener: TransitionListener) -> None:
        """Call ``listener(name, transition)`` after every state change."""
        self._listeners.append(listener)

    def check(self) -> Admission:
        """Whether a call would be allowed now, without reserving a probe."""
        return admission(self._state, self._clock(), self.config)

    def can_execute(self) -> bool:
        """Ask to make a call; in half-open this reserves one of the probe slots."""
        now = self._clock()
        decision = admission(self._state, now, self.config)
        self._apply(Acquire(), now)
        return decision.allowed

    def record_success(self, latency_ms: float | None = None) -> None:
        """Report a successful call (a slow one counts as a failure when configured)."""
        self._apply(Success(latency_ms), self._clock())

    def record_failure(self, reason: str = "failure") -> None:
        """Report a failed call."""
        self._apply(Failure(reason), self._clock())

    def force_open(self) -> None:
        """Open and stay open until :meth:`force_close`."""
        self._apply(ForceOpen(), self._clock())

    def force_close(self) -> None:
        """Close now and forget failures and backoff."""
        self._apply(ForceClose(), self._clock())

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` through the breaker; raise :class:`CircuitOpenError` when refused."""
        if self._state.state is not _CLOSED:
            self._admit()  # closed: an Acquire changes nothing (and the call is saved)
        if self._untimed:  # no latency to measure: no clock read around fn
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                self.record_failure(type(exc).__name__)
                raise
            state = self._state  # fn may have moved it (a re-entrant call, another thread)
            if state.state is _CLOSED:  # the common case: step's closed-success fold, inlined
                self._state = closed_success(state, self._config)
            else:
                self._apply(_SUCCESS, self._clock())
            return result
        started = self._clock()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.record_failure(type(exc).__name__)
            raise
        self.record_success((self._clock() - started) * 1000.0)
        return result

    async def call_async(
        self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``fn`` through the breaker; raise :class:`CircuitOpenError` when refused."""
        self._admit()
        started = self._clock()
        try:
            result = await fn(*args, **kwargs)
        except Exception as exc:
            self.record_failure(type(exc).__name__)
            raise
        self.record_success((self._clock() - started) * 1000.0)
        return result

    def _admit(self) -> None:
        if self._state.state is _CLOSED:
            return  # an Acquire changes nothing while closed
        now = self._clock()
        decision = admission(self._state, now, self.config)
        self._apply(Acquire(), now)
        if not decision.allowed:
            raise CircuitOpenError(self.name, decision.reason, decision.retry_after_s)

    def _apply(self, event: BreakerEvent, now: float) -> None:
        self._state, moved = step(self._state, event, now, self.config, self._rng)
        if not moved:
            return
        for transition in moved:
            self.transitions.append(transition)
            del self.transitions[:-100]
            for listener in self._listeners:
                listener(self.name, transition)
