"""Typed policy models: defaults, validation of partial configs, unknown types kept."""

from __future__ import annotations

import pytest

from streams.policy.exceptions import InvalidPolicyConfigError
from streams.policy.models import (
    AntitheftPolicy,
    HealthPolicy,
    PrivacyPolicy,
    ResiliencePolicy,
    UnknownPolicy,
    build_policy,
    settings_defaults,
    validate_config,
)
from streams.settings import Settings


def test_defaults_are_safe() -> None:
    privacy = PrivacyPolicy()
    assert privacy.face_blur_enabled
    assert privacy.license_plate_blur_enabled
    assert privacy.fail_closed
    assert HealthPolicy().offline_after_s == 60.0
    assert ResiliencePolicy().failure_threshold == 5
    assert AntitheftPolicy().shelf_out_delta == 0.25


def test_partial_config_returns_only_given_fields() -> None:
    assert validate_config("privacy", {"blur_strength": 1}) == {"blur_strength": 1.0}
    assert validate_config("privacy", {}) == {}


@pytest.mark.parametrize(
    ("policy_type", "config", "field"),
    [
        ("privacy", {"blur_strength": 1.5}, "blur_strength"),
        ("privacy", {"blur_mode": "swirl"}, "blur_mode"),
        ("privacy", {"face_blur_enabled": "yes"}, "face_blur_enabled"),
        ("privacy", {"mask_shape": "star"}, "mask_shape"),
        ("privacy", {"colour": "red"}, "colour"),
        ("health", {"offline_after_s": 0}, "offline_after_s"),
        ("resilience", {"failure_threshold": 0}, "failure_threshold"),
        ("antitheft", {"shelf_out_delta": -0.1}, "shelf_out_delta"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(
    policy_type: str, config: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidPolicyConfigError) as info:
        validate_config(policy_type, config)
    assert info.value.status == 422
    assert field in str(info.value)


def test_config_must_be_an_object() -> None:
    with pytest.raises(InvalidPolicyConfigError, match="JSON object"):
        validate_config("privacy", [1, 2])
    with pytest.raises(InvalidPolicyConfigError, match="JSON object"):
        validate_config("retention", "30d")


def test_unknown_policy_type_is_kept_and_flagged() -> None:
    raw = {"days": 30, "nested": {"a": [1, 2]}}
    assert validate_config("retention", raw) == raw
    policy = build_policy("retention", raw)
    assert isinstance(policy, UnknownPolicy)
    assert policy.flagged
    assert dict(policy.config) == raw


def test_settings_defaults_feed_the_models() -> None:
    settings = Settings(face_blur_enabled=False, offline_after_s=12.0)
    defaults = settings_defaults(settings)
    assert build_policy("privacy", defaults["privacy"]) == PrivacyPolicy(face_blur_enabled=False)
    health = build_policy("health", defaults["health"])
    assert isinstance(health, HealthPolicy)
    assert health.offline_after_s == 12.0


def test_the_spec_antitheft_example_is_valid() -> None:
    """``AntitheftPolicy(shelf_out_delta=2.0)``: a delta in stock units, not a share."""
    assert AntitheftPolicy(shelf_out_delta=2.0).shelf_out_delta == 2.0
    assert validate_config("antitheft", {"shelf_out_delta": 2.0}) == {"shelf_out_delta": 2.0}
    description = AntitheftPolicy.model_fields["shelf_out_delta"].description or ""
    assert "delta" in description
    assert "not a share" in description


def test_settings_defaults_carry_every_breaker_setting() -> None:
    settings = Settings(
        breaker_failure_threshold=7,
        breaker_slow_call_ms=300.0,
        breaker_min_calls=5,
        breaker_window_size=9,
        breaker_failure_rate_threshold=0.4,
        breaker_half_open_max_probes=2,
        breaker_backoff_multiplier=3.0,
        breaker_max_recovery_timeout_s=900.0,
    )
    policy = build_policy("resilience", settings_defaults(settings)["resilience"])
    assert policy == ResiliencePolicy(
        failure_threshold=7,
        slow_call_threshold_ms=300.0,
        minimum_calls=5,
        window_size=9,
        failure_rate_threshold=0.4,
        half_open_max_calls=2,
        backoff_multiplier=3.0,
        max_recovery_timeout_s=900.0,
    )
