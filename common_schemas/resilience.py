"""``CircuitBreaker``, ``CircuitBreakerConfig`` and ``ResilienceManager`` of the specification.

::

    breaker = CircuitBreaker("camera_1", CircuitBreakerConfig(failure_threshold=5,
                                                              recovery_timeout=60.0,
                                                              success_threshold=3))
    if breaker.can_execute(): ...; breaker.record_success()   # or record_failure()

    manager = ResilienceManager("service_name", supabase_client)
    await manager.start_all()
    frame = await manager.execute_with_circuit_breaker(
        f"camera_{camera_id}", process_camera_frame, request, camera_id=camera_id)
    await manager.stop_all()

:class:`CircuitBreaker` is camguard's :class:`streams.resilience.circuit.CircuitBreaker`
itself. :class:`CircuitBreakerConfig` is camguard's config with the specification's
``recovery_timeout`` (seconds) for ``recovery_timeout_s``; every other camguard field
(``jitter_ratio``, ``backoff_multiplier``, ``slow_call_threshold_ms`` ...) is accepted too.
:class:`ResilienceManager` is camguard's :class:`streams.resilience_manager.ResilienceManager`
taking a Supabase client: ``start_all`` / ``stop_all`` also run a
:class:`~common_schemas.health.CameraHealthMonitor` on that client (``manager.health_monitor``).
A refused call raises :class:`CircuitOpenError` (``status`` 503, ``retry_after`` seconds);
:func:`common_schemas.web.install_exception_handlers` turns it into a 503 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from common_schemas.health import CameraHealthMonitor, SupabaseClientLike
from streams import resilience_manager as manager
from streams.resilience import breaker
from streams.resilience.breaker import State
from streams.resilience.circuit import CircuitBreaker
from streams.resilience.exceptions import CircuitOpenError

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "ResilienceManager",
    "State",
]


class CircuitBreakerConfig(breaker.CircuitBreakerConfig):
    """camguard's breaker config, built with the specification's argument names."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float | None = None,
        success_threshold: int = 3,
        **camguard_fields: Any,
    ) -> None:
        if recovery_timeout is not None:
            if "recovery_timeout_s" in camguard_fields:
                raise TypeError("give recovery_timeout or recovery_timeout_s, not both")
            camguard_fields["recovery_timeout_s"] = recovery_timeout
        super().__init__(
            failure_threshold=failure_threshold,
            success_threshold=success_threshold,
            **camguard_fields,
        )

    @property
    def recovery_timeout(self) -> float:
        """The first open period in seconds (camguard's ``recovery_timeout_s``)."""
        return self.recovery_timeout_s


class ResilienceManager(manager.ResilienceManager):
    """Named breakers of one service, and the health monitor of its cameras."""

    def __init__(
        self,
        service_name: str,
        supabase_client: SupabaseClientLike | None = None,
        **camguard_options: Any,
    ) -> None:
        super().__init__(service_name, **camguard_options)
        self.health_monitor = CameraHealthMonitor(supabase_client)

    async def start_all(self) -> None:
        """Start the background work: the health monitor's publishing loop."""
        await super().start_all()
        await self.health_monitor.start_monitoring()

    async def stop_all(self, flush_timeout_s: float = 5.0) -> None:
        """Stop publishing after one last attempt to write the latest stats."""
        await self.health_monitor.stop_monitoring(flush_timeout_s)
        await super().stop_all(flush_timeout_s)
