"""The frames agent's privacy lookup: settings defaults, and the policy manager's values."""

from __future__ import annotations

import pytest

from agents.frames import privacy_for
from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import PrivacyConfigError
from streams.anonymize.frame_decisions import privacy_from
from streams.policy.models import PrivacyPolicy
from streams.settings import Settings


def test_settings_defaults_apply_without_a_policy() -> None:
    config, version = privacy_for("org", "cam", settings=Settings(face_blur_enabled=False))
    assert version is None
    assert not config.face_blur_enabled
    assert config.license_plate_blur_enabled


def test_a_privacy_policy_becomes_the_blur_config_with_its_version() -> None:
    policy = PrivacyPolicy(blur_mode="pixelate", blur_strength=0.3, face_score_threshold=0.01)
    lookup = privacy_from(lambda org, cam: (policy, 7))
    config, version = lookup("org", "cam")
    assert version == 7
    assert (config.blur_mode, config.blur_strength) == ("pixelate", 0.3)
    assert config.threshold("FACE") == 0.05  # a near-zero threshold would box every pixel


def test_a_policy_that_is_no_blur_config_is_a_typed_error() -> None:
    class Odd(BlurConfig):
        pass

    bad = Odd.model_construct(blur_strength=3.0)  # bypasses validation, as a stale row might
    lookup = privacy_from(lambda org, cam: (bad, 2))
    with pytest.raises(PrivacyConfigError) as caught:
        lookup("org", "cam")
    assert caught.value.reason == "privacy_policy_invalid"
