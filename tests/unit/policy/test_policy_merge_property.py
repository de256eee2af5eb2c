"""Property: any stack of valid partial configs resolves to a valid typed policy, field by field."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.policy.models import PrivacyPolicy, build_policy, model_defaults, validate_config
from streams.policy.resolve import PolicyRow, resolve_policy

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "face_blur_enabled": st.booleans(),
    "blur_strength": st.floats(0.0, 1.0),
    "blur_mode": st.sampled_from(["gaussian", "pixelate", "solid"]),
    "mask_shape": st.sampled_from(["box", "ellipse"]),
    "mask_margin": st.floats(0.0, 1.0),
    "face_score_threshold": st.floats(0.01, 1.0),
}
partial = st.fixed_dictionaries({}, optional=FIELDS)


@given(global_=partial, org=partial, camera=partial)
def test_most_specific_setter_wins_and_the_result_is_valid(
    global_: dict[str, Any], org: dict[str, Any], camera: dict[str, Any]
) -> None:
    rows = [
        PolicyRow("c", "svc", "privacy", "o", "cam", 1, validate_config("privacy", camera)),
        PolicyRow("g", "svc", "privacy", None, None, 1, validate_config("privacy", global_)),
        PolicyRow("o", "svc", "privacy", "o", None, 1, validate_config("privacy", org)),
    ]
    effective = resolve_policy(
        rows, "privacy", org_id="o", camera_id="cam", defaults=model_defaults("privacy")
    )
    policy = build_policy("privacy", effective.values)
    assert isinstance(policy, PrivacyPolicy)
    for name in FIELDS:
        expected_row = next(
            (
                row_id
                for row_id, layer in (("c", camera), ("o", org), ("g", global_))
                if name in layer
            ),
            None,
        )
        assert effective.provenance[name].row_id == expected_row
