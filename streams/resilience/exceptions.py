"""Errors of the resilience package.

::

    CamguardError
    └── ResilienceError
        ├── CircuitOpenError      (status 503, retriable, carries retry_after)
        └── UnknownBreakerError   (status 404)
"""

from __future__ import annotations

import math

from streams.exceptions import CamguardError


class ResilienceError(CamguardError):
    """Base class of the resilience package's errors."""

    reason = "resilience_error"


class CircuitOpenError(ResilienceError):
    """A circuit breaker refused the call.

    The protected dependency failed too often. Nothing to fix on the caller's side: retry after
    ``retry_after`` seconds (None when the breaker was forced open by an operator; close it with
    ``force_close`` once the dependency is healthy). Views answer 503 with ``Retry-After``.
    """

    retriable = True
    status = 503

    def __init__(self, name: str, reason: str = "open", retry_after: float | None = None) -> None:
        wait = "" if retry_after is None else f"; retry after {retry_after:.1f}s"
        super().__init__(f"circuit {name!r} refused the call ({reason}{wait})")
        self.name = name
        self.reason = reason
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str | None:
        """The HTTP ``Retry-After`` value (whole seconds, rounded up), if any."""
        if self.retry_after is None:
            return None
        return str(max(1, math.ceil(self.retry_after)))


class UnknownBreakerError(ResilienceError):
    """No breaker of that name is registered with the manager; check the name."""

    reason = "unknown_breaker"
    status = 404


class InvalidEventError(ResilienceError):
    """A camera event cannot be folded into health (bad timestamp, negative latency, ...).

    The event is dead-lettered with this ``reason``; fix the producer (its clock, or the
    latency it measures). ``max_clock_skew_s`` sets how far timestamps may be off.
    """

    status = 422

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
