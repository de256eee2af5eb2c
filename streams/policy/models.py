"""Typed policies: one pydantic model per ``policy_type``, with validation and defaults.

A row of ``service_policies`` carries a *partial* config: only the fields it overrides. Every
field has a default and no validator looks at two fields at once, so a partial config is
validated on its own (:func:`validate_config`) and any merge of valid partials is valid.

An unknown ``policy_type`` is not an error: its config is kept as raw JSON in an
:class:`UnknownPolicy`, whose ``flagged`` attribute tells views and operators about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.policy.exceptions import InvalidPolicyConfigError
from streams.settings import FACE_SCORE_THRESHOLD, PLATE_SCORE_THRESHOLD, Settings

Channel = Annotated[int, Field(ge=0, le=255)]


class PolicyModel(BaseModel):
    """Base of the typed policies: immutable, unknown fields refused, no type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class PrivacyPolicy(PolicyModel):
    """What the anonymizer blurs and how."""

    face_blur_enabled: bool = True
    license_plate_blur_enabled: bool = True
    blur_strength: float = Field(default=0.8, ge=0.0, le=1.0, description="0 = none, 1 = max")
    blur_mode: Literal["gaussian", "pixelate", "solid"] = "gaussian"
    mask_shape: Literal["box", "ellipse"] = "box"
    mask_margin: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Added on each side, as a fraction of the box"
    )
    fail_closed: bool = Field(
        default=True, description="Detection failure: anonymize the whole frame, never pass it"
    )
    fail_closed_action: Literal["blur", "drop"] = "blur"
    face_score_threshold: float = Field(default=FACE_SCORE_THRESHOLD, gt=0.0, le=1.0)
    plate_score_threshold: float = Field(default=PLATE_SCORE_THRESHOLD, gt=0.0, le=1.0)
    solid_color: tuple[Channel, Channel, Channel] = Field(
        default=(0, 0, 0), strict=False, description="BGR fill of blur_mode solid"
    )


class AntitheftPolicy(PolicyModel):
    """Shelf-monitoring thresholds of the antitheft service."""

    enabled: bool = True
    shelf_out_delta: float = Field(
        default=0.25,
        ge=0.0,
        description=(
            "How far a shelf's stock level may drop between two observations before an"
            " out-of-stock alert, in the antitheft service's own stock units (a delta, not a"
            " share: 2.0 is valid). camguard stores and resolves it without interpreting it."
        ),
    )
    min_event_duration_s: float = Field(default=2.0, ge=0.0)
    alert_cooldown_s: float = Field(default=300.0, ge=0.0)
    confidence_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    zones: list[str] = Field(default_factory=list, description="Zone ids watched; empty = all")
    notify_channels: list[str] = Field(default_factory=list)


class ResiliencePolicy(PolicyModel):
    """Circuit-breaker settings of one camera (or of every camera in scope).

    Applied live to the camera breakers of every worker (see
    :mod:`streams.resilience.scoped`). A ``max_recovery_timeout_s`` below
    ``recovery_timeout_s`` means no backoff growth; a ``minimum_calls`` above ``window_size``
    means the whole window.
    """

    failure_threshold: int = Field(default=5, ge=1)
    recovery_timeout_s: float = Field(default=60.0, gt=0.0)
    success_threshold: int = Field(default=3, ge=1)
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    max_recovery_timeout_s: float = Field(default=600.0, gt=0.0)
    half_open_max_calls: int = Field(default=1, ge=1)
    failure_rate_threshold: float | None = Field(default=None, gt=0.0, le=1.0)
    window_size: int = Field(default=20, ge=1)
    minimum_calls: int = Field(default=10, ge=1)
    slow_call_threshold_ms: float | None = Field(default=None, gt=0.0)


class HealthPolicy(PolicyModel):
    """When a camera counts as offline and how often health is published.

    ``offline_after_s`` and ``online_after_frames`` apply live per camera to the health fold
    (see :mod:`streams.resilience.scoped`); ``publish_interval_s`` is the worker's timer and
    is only read from the settings at start.
    """

    offline_after_s: float = Field(default=60.0, gt=0.0)
    online_after_frames: int = Field(default=3, ge=1)
    publish_interval_s: float = Field(default=30.0, gt=0.0)


POLICY_MODELS: Final[Mapping[str, type[PolicyModel]]] = MappingProxyType(
    {
        "privacy": PrivacyPolicy,
        "antitheft": AntitheftPolicy,
        "resilience": ResiliencePolicy,
        "health": HealthPolicy,
    }
)


@dataclass(frozen=True)
class UnknownPolicy:
    """The config of a policy_type this version does not know, kept as raw JSON."""

    policy_type: str
    config: Mapping[str, Any] = field(default_factory=dict)
    flagged: bool = True


Policy = PolicyModel | UnknownPolicy


def is_known(policy_type: str) -> bool:
    """Whether ``policy_type`` has a typed model."""
    return policy_type in POLICY_MODELS


def _messages(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in err['loc']) or '<config>'}: {err['msg']}"
        for err in exc.errors()
    ]


def validate_config(policy_type: str, config: object) -> dict[str, Any]:
    """Validate a (partial) config of ``policy_type``; return only the fields it sets.

    Raises :class:`InvalidPolicyConfigError` for a non-object, an unknown field or a bad
    value. The config of an unknown policy_type only has to be a JSON object.
    """
    if not isinstance(config, Mapping):
        raise InvalidPolicyConfigError(
            f"{policy_type}: config must be a JSON object, got {type(config).__name__}"
        )
    if any(not isinstance(k, str) for k in config):
        raise InvalidPolicyConfigError(f"{policy_type}: config keys must be strings")
    model = POLICY_MODELS.get(policy_type)
    if model is None:
        return dict(config)
    try:
        parsed = model.model_validate(dict(config))
    except ValidationError as exc:
        errors = _messages(exc)
        raise InvalidPolicyConfigError(f"{policy_type}: {'; '.join(errors)}", errors) from exc
    return parsed.model_dump(mode="json", include=set(config))


def build_policy(policy_type: str, values: Mapping[str, Any]) -> Policy:
    """The typed policy from merged ``values`` (or an :class:`UnknownPolicy`)."""
    model = POLICY_MODELS.get(policy_type)
    if model is None:
        return UnknownPolicy(policy_type, MappingProxyType(dict(values)))
    return model.model_validate(dict(values))


def model_defaults(policy_type: str) -> dict[str, Any]:
    """Every field of a known type with its default (JSON-compatible); {} for unknown ones."""
    model = POLICY_MODELS.get(policy_type)
    return {} if model is None else model().model_dump(mode="json")


def settings_defaults(settings: Settings) -> dict[str, dict[str, Any]]:
    """The lowest layer of resolution: per-type values taken from the worker's settings."""
    return {
        "privacy": {
            "face_blur_enabled": settings.face_blur_enabled,
            "license_plate_blur_enabled": settings.license_plate_blur_enabled,
            "fail_closed": settings.fail_closed,
            "fail_closed_action": settings.frame_failure_policy,
            "face_score_threshold": settings.face_score_threshold,
            "plate_score_threshold": settings.plate_score_threshold,
        },
        "resilience": {
            "failure_threshold": settings.breaker_failure_threshold,
            "recovery_timeout_s": settings.breaker_recovery_timeout_s,
            "success_threshold": settings.breaker_success_threshold,
            "backoff_multiplier": settings.breaker_backoff_multiplier,
            "max_recovery_timeout_s": settings.breaker_max_recovery_timeout_s,
            "half_open_max_calls": settings.breaker_half_open_max_probes,
            "failure_rate_threshold": settings.breaker_failure_rate_threshold,
            "window_size": settings.breaker_window_size,
            "minimum_calls": settings.breaker_min_calls,
            "slow_call_threshold_ms": settings.breaker_slow_call_ms,
        },
        "health": {
            "offline_after_s": settings.offline_after_s,
            "online_after_frames": settings.online_after_frames,
            "publish_interval_s": settings.health_publish_interval_s,
        },
    }
