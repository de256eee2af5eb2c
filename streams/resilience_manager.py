"""The seed service's entry point to resilience: named breakers and the health publisher.

``ResilienceManager(service_name, store)`` keeps one :class:`CircuitBreaker` per protected
dependency (created on first use) and, when given a store, the :class:`HealthPublisher` that
writes camera health to it. ``start_all()`` / ``stop_all()`` start and stop what runs in the
background; ``execute_with_circuit_breaker(name, fn, ...)`` awaits ``fn`` through breaker
``name`` and raises :class:`CircuitOpenError` (``retry_after``, status 503) when it is open.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from streams.resilience.breaker import CircuitBreakerConfig
from streams.resilience.circuit import CircuitBreaker, TransitionListener
from streams.resilience.exceptions import UnknownBreakerError
from streams.resilience.serde import breaker_to_dict
from streams.store.base import HealthStore
from streams.store.publisher import HealthPublisher, PublisherConfig

P = ParamSpec("P")
T = TypeVar("T")


class ResilienceManager:
    """Breakers by name and the health publisher of one service."""

    def __init__(
        self,
        service_name: str,
        store: HealthStore | None = None,
        *,
        breaker_config: CircuitBreakerConfig | None = None,
        publisher_config: PublisherConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.service_name = service_name
        self.store = store
        self.breaker_config = breaker_config or CircuitBreakerConfig()
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._listeners: list[TransitionListener] = []
        self.publisher = (
            HealthPublisher(store, publisher_config, rng=self._rng) if store is not None else None
        )
        self.started = False

    @property
    def breakers(self) -> Mapping[str, CircuitBreaker]:
        """Every breaker created so far, by name."""
        return dict(self._breakers)

    def breaker(self, name: str, config: CircuitBreakerConfig | None = None) -> CircuitBreaker:
        """The breaker ``name``, created with ``config`` (or the default) on first use."""
        found = self._breakers.get(name)
        if found is None:
            found = CircuitBreaker(
                name, config or self.breaker_config, clock=self._clock, rng=self._rng
            )
            for listener in self._listeners:
                found.on_transition(listener)
            self._breakers[name] = found
        return found

    def get(self, name: str) -> CircuitBreaker:
        """An existing breaker; :class:`UnknownBreakerError` (404) if there is none."""
        try:
            return self._breakers[name]
        except KeyError:
            raise UnknownBreakerError(f"no circuit breaker named {name!r}") from None

    def on_transition(self, listener: TransitionListener) -> None:
        """Call ``listener(name, transition)`` on every state change of every breaker."""
        self._listeners.append(listener)
        for found in self._breakers.values():
            found.on_transition(listener)

    async def start_all(self) -> None:
        """Start the background work (the health publisher, if there is a store)."""
        if self.publisher is not None:
            self.publisher.start()
        self.started = True

    async def stop_all(self, flush_timeout_s: float = 5.0) -> None:
        """Stop the publisher after one last attempt to write what is pending."""
        if self.publisher is not None:
            await self.publisher.stop(flush_timeout_s)
        self.started = False

    async def execute_with_circuit_breaker(
        self, name: str, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``fn(*args, **kwargs)`` through breaker ``name``.

        Raises :class:`~streams.resilience.exceptions.CircuitOpenError` without calling ``fn``
        when the breaker refuses; exceptions of ``fn`` are recorded as failures and re-raised.
        For a plain function use ``manager.breaker(name).call(fn, ...)``.
        """
        return await self.breaker(name).call_async(fn, *args, **kwargs)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every breaker's state as JSON-able dicts, with the state a caller sees now."""
        return {
            name: {**breaker_to_dict(b.snapshot), "effective_state": b.state.value}
            for name, b in sorted(self._breakers.items())
        }
