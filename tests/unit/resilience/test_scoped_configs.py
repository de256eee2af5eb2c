"""Each camera's breaker and health config from the resilience/health policies, live."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract.records import EventKind
from streams.policy.manager import PolicyManager
from streams.policy.models import HealthPolicy, PolicyModel, ResiliencePolicy
from streams.policy.resolve import PolicyRow
from streams.resilience.breaker import BreakerState, CircuitBreakerConfig, State
from streams.resilience.camera import CameraConfig, apply_observation
from streams.resilience.health import HealthConfig, HealthState, Observation
from streams.resilience.scoped import CameraConfigs, breaker_config, camera_config, health_config
from streams.settings import Settings

M = TypeVar("M", bound=PolicyModel)
NOW = 1_700_000_000.0
ORG, OTHER_ORG = "org-1", "org-2"


def row(
    row_id: str,
    policy_type: str,
    config: dict[str, object],
    *,
    org_id: str | None = None,
    camera_id: str | None = None,
    version: int = 1,
) -> PolicyRow:
    return PolicyRow(row_id, "camguard", policy_type, org_id, camera_id, version, config, version)


def worker(settings: Settings | None = None) -> tuple[PolicyManager, CameraConfigs]:
    """A worker's manager (defaults = its settings) and the camera configs that follow it."""
    settings = settings or Settings()
    manager = PolicyManager.from_settings(settings)
    return manager, CameraConfigs(CameraConfig.from_settings(settings), manager)


def test_every_policy_field_reaches_the_breaker_and_health_configs() -> None:
    policy = ResiliencePolicy(
        failure_threshold=2,
        recovery_timeout_s=30.0,
        success_threshold=4,
        backoff_multiplier=3.0,
        max_recovery_timeout_s=900.0,
        half_open_max_calls=2,
        failure_rate_threshold=0.5,
        window_size=8,
        minimum_calls=6,
        slow_call_threshold_ms=250.0,
    )
    base = CircuitBreakerConfig(jitter_ratio=0.2, probe_timeout_s=7.0)
    assert breaker_config(policy, base) == CircuitBreakerConfig(
        failure_threshold=2,
        failure_rate_threshold=0.5,
        window_size=8,
        min_calls=6,
        slow_call_threshold_ms=250.0,
        recovery_timeout_s=30.0,
        backoff_multiplier=3.0,
        max_recovery_timeout_s=900.0,
        jitter_ratio=0.2,  # the worker's
        success_threshold=4,
        half_open_max_probes=2,
        probe_timeout_s=7.0,  # the worker's
    )
    health = health_config(
        HealthPolicy(offline_after_s=5.0, online_after_frames=1), HealthConfig(ewma_alpha=0.5)
    )
    assert health == HealthConfig(offline_after_s=5.0, online_after_frames=1, ewma_alpha=0.5)


def test_cross_field_rules_the_models_leave_open_are_settled() -> None:
    """max below recovery: no growth; minimum_calls above window_size: the whole window."""
    policy = ResiliencePolicy(
        recovery_timeout_s=120.0, max_recovery_timeout_s=30.0, window_size=4, minimum_calls=10
    )
    config = breaker_config(policy, CircuitBreakerConfig())
    assert config.max_recovery_timeout_s == 120.0
    assert config.backoff_ceiling(5) == 120.0
    assert config.min_calls == 4


resilience_policies = st.builds(
    ResiliencePolicy,
    failure_threshold=st.integers(1, 1000),
    recovery_timeout_s=st.floats(1e-3, 1e6),
    success_threshold=st.integers(1, 1000),
    backoff_multiplier=st.floats(1.0, 100.0),
    max_recovery_timeout_s=st.floats(1e-3, 1e6),
    half_open_max_calls=st.integers(1, 100),
    failure_rate_threshold=st.none() | st.floats(1e-6, 1.0),
    window_size=st.integers(1, 500),
    minimum_calls=st.integers(1, 1000),
    slow_call_threshold_ms=st.none() | st.floats(1e-3, 1e6),
)


@settings(max_examples=200, deadline=None)
@given(resilience_policies)
def test_any_valid_resilience_policy_maps_to_a_valid_breaker_config(
    policy: ResiliencePolicy,
) -> None:
    config = breaker_config(policy, CircuitBreakerConfig())  # __post_init__ validates it
    assert config.failure_threshold == policy.failure_threshold
    assert config.recovery_timeout_s == policy.recovery_timeout_s


def test_without_rows_every_camera_runs_with_the_settings() -> None:
    settings = Settings(
        breaker_failure_threshold=7,
        breaker_slow_call_ms=300.0,
        breaker_min_calls=5,
        breaker_failure_rate_threshold=0.4,
        offline_after_s=12.0,
    )
    _, configs = worker(settings)
    assert configs.for_camera(ORG, "cam-1") == CameraConfig.from_settings(settings)
    assert configs.for_camera(None, "cam-2") == CameraConfig.from_settings(settings)


def test_camera_over_org_over_global_over_settings() -> None:
    manager, configs = worker(Settings(breaker_failure_threshold=5, offline_after_s=60.0))
    manager.apply_row(row("g", "resilience", {"failure_threshold": 9, "success_threshold": 2}))
    manager.apply_row(row("o", "resilience", {"failure_threshold": 4}, org_id=ORG))
    manager.apply_row(
        row("c", "resilience", {"failure_threshold": 2}, org_id=ORG, camera_id="cam-a")
    )
    manager.apply_row(row("h", "health", {"offline_after_s": 15.0}, org_id=ORG))

    cam_a, cam_b = configs.for_camera(ORG, "cam-a"), configs.for_camera(ORG, "cam-b")
    elsewhere = configs.for_camera(OTHER_ORG, "cam-c")
    assert (cam_a.breaker.failure_threshold, cam_a.breaker.success_threshold) == (2, 2)
    assert (cam_b.breaker.failure_threshold, cam_b.breaker.success_threshold) == (4, 2)
    assert (elsewhere.breaker.failure_threshold, elsewhere.breaker.success_threshold) == (9, 2)
    assert cam_a.health.offline_after_s == cam_b.health.offline_after_s == 15.0
    assert elsewhere.health.offline_after_s == 60.0


def test_a_change_applies_at_the_next_lookup_and_lookups_are_cached_between_changes() -> None:
    manager, configs = worker()
    assert configs.for_camera(ORG, "cam-a").breaker.failure_threshold == 5
    for _ in range(100):
        configs.for_camera(ORG, "cam-a")
    assert configs.resolved == 1  # resolved once, then served from the cache

    first = row("c", "resilience", {"failure_threshold": 2}, org_id=ORG, camera_id="cam-a")
    manager.apply_row(first)
    assert configs.for_camera(ORG, "cam-a").breaker.failure_threshold == 2
    assert configs.for_camera(ORG, "cam-b").breaker.failure_threshold == 5
    assert configs.resolved == 3

    manager.apply_row(replace(first, version=2, config={"failure_threshold": 3}))
    assert configs.for_camera(ORG, "cam-a").breaker.failure_threshold == 3
    manager.apply_tombstone(first.key)
    assert configs.for_camera(ORG, "cam-a").breaker.failure_threshold == 5


def test_the_cache_is_bounded() -> None:
    manager, _ = worker()
    configs = CameraConfigs(CameraConfig(), manager, max_cached=10)
    for i in range(25):
        configs.for_camera(ORG, f"cam-{i}")
    assert configs.cached <= 10
    assert configs.for_camera(ORG, "cam-24").breaker.failure_threshold == 5


def test_without_policies_every_camera_gets_the_base() -> None:
    base = CameraConfig(breaker=CircuitBreakerConfig(failure_threshold=3))
    assert CameraConfigs(base).for_camera(ORG, "cam-1") is base


class RefusingPolicies:
    """Policies whose merge is refused (a fake of the ScopedPolicies protocol)."""

    revision = 1

    def typed(
        self, model: type[M], policy_type: str, org_id: str | None, camera_id: str | None
    ) -> tuple[M, int | None]:
        raise ValueError(f"{policy_type}: merged values refused")


def test_a_refused_resolution_runs_the_camera_with_the_settings_and_says_so() -> None:
    base = CameraConfig(breaker=CircuitBreakerConfig(failure_threshold=3))
    configs = CameraConfigs(base, RefusingPolicies())
    assert configs.for_camera(ORG, "cam-1") is base
    assert configs.for_camera(ORG, "cam-1") is base
    assert (configs.failed, configs.resolved) == (1, 1)
    assert configs.last_error is not None
    assert "merged values refused" in configs.last_error


def fail(
    breaker: BreakerState, configs: CameraConfigs, camera_id: str, at: float
) -> tuple[BreakerState, list[tuple[str, int]]]:
    """One FRAME_ERROR of ``camera_id`` folded in with its config now."""
    obs = Observation(EventKind.FRAME_ERROR, at, 5.0, ORG)
    config = configs.for_camera(ORG, camera_id)
    update = apply_observation(
        breaker, HealthState(camera_id), obs, at, config, random.Random(0), "boom"
    )
    moves = [(m.to_state.value, m.consecutive_failures) for m in update.transitions]
    return update.breaker, moves


def test_a_lowered_failure_threshold_trips_one_camera_at_the_new_count_live() -> None:
    manager, configs = worker(Settings(breaker_failure_threshold=5))
    manager.apply_row(
        row("c", "resilience", {"failure_threshold": 2}, org_id=ORG, camera_id="cam-a")
    )
    a, b = BreakerState(), BreakerState()
    trips: dict[str, list[tuple[str, int]]] = {"cam-a": [], "cam-b": []}
    for i in range(5):
        a, moved = fail(a, configs, "cam-a", NOW + i)
        trips["cam-a"] += moved
        b, moved = fail(b, configs, "cam-b", NOW + i)
        trips["cam-b"] += moved
        if i == 1:
            assert (a.state, b.state) == (State.OPEN, State.CLOSED)
    assert trips == {"cam-a": [("OPEN", 2)], "cam-b": [("OPEN", 5)]}


def test_a_raised_threshold_keeps_a_camera_closed_and_health_thresholds_follow() -> None:
    manager, configs = worker(Settings(breaker_failure_threshold=2, online_after_frames=3))
    manager.apply_row(row("g", "resilience", {"failure_threshold": 4}))
    manager.apply_row(row("h", "health", {"online_after_frames": 1}, org_id=ORG))
    breaker = BreakerState()
    for i in range(3):
        breaker, _ = fail(breaker, configs, "cam-a", NOW + i)
    assert breaker.state is State.CLOSED
    config = configs.for_camera(ORG, "cam-a")
    alive = Observation(EventKind.HEARTBEAT, NOW, None, ORG)
    update = apply_observation(
        BreakerState(), HealthState("cam-a"), alive, NOW, config, random.Random(0)
    )
    assert update.health.online  # one sign of life is enough under the org's policy


def test_camera_config_keeps_what_policies_do_not_set() -> None:
    base = CameraConfig(
        breaker=CircuitBreakerConfig(jitter_ratio=0.0, probe_timeout_s=3.0),
        health=HealthConfig(fps_window_s=5),
        max_skew_s=30.0,
    )
    config = camera_config(base, ResiliencePolicy(), HealthPolicy())
    assert config.max_skew_s == 30.0
    assert (config.breaker.jitter_ratio, config.breaker.probe_timeout_s) == (0.0, 3.0)
    assert config.health.fps_window_s == 5
