"""Per-camera breaker and health configs from the ``resilience`` and ``health`` policies (pure).

A worker starts with one :class:`~streams.resilience.camera.CameraConfig` from its settings.
The ``resilience`` and ``health`` policies that apply to a camera (camera > org > global, over
the settings, resolved by :class:`~streams.policy.manager.PolicyManager`, whose defaults *are*
the settings) replace its thresholds:

- :func:`breaker_config` and :func:`health_config` map a typed policy onto the config. They are
  total: any valid policy gives a valid config (the two cross-field rules the policy models do
  not check are settled here, as their docstrings say);
- :class:`CameraConfigs` answers ``for_camera(org_id, camera_id)`` from a cache that it drops
  whenever the policies' ``revision`` moves. Every worker's manager follows service.policies,
  so a change applies to the next batch of every worker without a restart, and the events
  path pays one dict lookup per camera per batch, never a resolution per event.

What the policies do not set stays the worker's: the jitter, the probe timeout, the accepted
clock skew, the EWMA and histogram sizes. Breaker and health *state* is kept across a change:
a lower failure threshold trips at the next failure once the consecutive failures reach it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Protocol, TypeVar

from streams.policy.models import HealthPolicy, PolicyModel, ResiliencePolicy
from streams.resilience.breaker import CircuitBreakerConfig
from streams.resilience.camera import CameraConfig
from streams.resilience.health import HealthConfig

log = logging.getLogger(__name__)
M = TypeVar("M", bound=PolicyModel)
CacheKey = tuple[str | None, str]
MAX_CACHED = 100_000
"""Cameras whose config is kept; past that the cache starts over (a bound, not an LRU)."""


class ScopedPolicies(Protocol):
    """What :class:`CameraConfigs` needs of a policy manager (``PolicyManager`` has it)."""

    revision: int
    """Moves on every change of the service's policies."""

    def typed(
        self, model: type[M], policy_type: str, org_id: str | None, camera_id: str | None
    ) -> tuple[M, int | None]: ...


def breaker_config(policy: ResiliencePolicy, base: CircuitBreakerConfig) -> CircuitBreakerConfig:
    """``base`` with every threshold of ``policy`` (jitter and probe timeout stay ``base``'s)."""
    return replace(
        base,
        failure_threshold=policy.failure_threshold,
        failure_rate_threshold=policy.failure_rate_threshold,
        window_size=policy.window_size,
        min_calls=min(policy.minimum_calls, policy.window_size),
        slow_call_threshold_ms=policy.slow_call_threshold_ms,
        recovery_timeout_s=policy.recovery_timeout_s,
        backoff_multiplier=policy.backoff_multiplier,
        max_recovery_timeout_s=max(policy.max_recovery_timeout_s, policy.recovery_timeout_s),
        success_threshold=policy.success_threshold,
        half_open_max_probes=policy.half_open_max_calls,
    )


def health_config(policy: HealthPolicy, base: HealthConfig) -> HealthConfig:
    """``base`` with the liveness thresholds of ``policy``."""
    return replace(
        base,
        offline_after_s=policy.offline_after_s,
        online_after_frames=policy.online_after_frames,
    )


def camera_config(
    base: CameraConfig, resilience: ResiliencePolicy, health: HealthPolicy
) -> CameraConfig:
    """The config of a camera whose effective policies are ``resilience`` and ``health``."""
    return replace(
        base,
        breaker=breaker_config(resilience, base.breaker),
        health=health_config(health, base.health),
    )


class CameraConfigs:
    """Each camera's config, resolved once per policy revision (see the module docstring).

    Without ``policies`` every camera runs with ``base``.
    """

    def __init__(
        self,
        base: CameraConfig,
        policies: ScopedPolicies | None = None,
        max_cached: int = MAX_CACHED,
    ) -> None:
        self.base = base
        self._policies = policies
        self._max_cached = max_cached
        self._cache: dict[CacheKey, CameraConfig] = {}
        self._revision: int | None = None
        self.resolved = 0
        """How many (org, camera) configs were resolved (a cache miss each)."""
        self.failed = 0
        """How many resolutions were refused (the camera ran with ``base`` instead)."""
        self.last_error: str | None = None

    @property
    def cached(self) -> int:
        """How many (org, camera) configs are held now."""
        return len(self._cache)

    def for_camera(self, org_id: str | None, camera_id: str) -> CameraConfig:
        """The config of ``camera_id`` (of ``org_id``, when known) under the policies now."""
        policies = self._policies
        if policies is None:
            return self.base
        cache = self._cache
        if policies.revision != self._revision:
            cache.clear()
            self._revision = policies.revision
        key = (org_id, camera_id)
        found = cache.get(key)
        if found is None:
            if len(cache) >= self._max_cached:
                cache.clear()
            found = cache[key] = self._resolve(policies, org_id, camera_id)
            self.resolved += 1
        return found

    def _resolve(
        self, policies: ScopedPolicies, org_id: str | None, camera_id: str
    ) -> CameraConfig:
        try:
            resilience, _ = policies.typed(ResiliencePolicy, "resilience", org_id, camera_id)
            health, _ = policies.typed(HealthPolicy, "health", org_id, camera_id)
            return camera_config(self.base, resilience, health)
        except ValueError as exc:  # pydantic's ValidationError is one
            # Rows are validated one by one when they arrive; should their merge still be
            # refused, the camera keeps running (with the worker's own thresholds) rather than
            # the events lane crashing on every batch until the rows change.
            self.failed += 1
            self.last_error = f"{org_id}/{camera_id}: {exc}"
            log.warning("camera config of %s/%s: %s; settings used", org_id, camera_id, exc)
            return self.base
