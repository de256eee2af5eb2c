"""Hierarchical resolution as a table: which value wins, and where it came from."""

from __future__ import annotations

from typing import Any

import pytest

from streams.policy.exceptions import InvalidPolicyRecordError
from streams.policy.resolve import (
    PolicyKey,
    PolicyRow,
    parse_policy_key,
    policy_key,
    resolve_policy,
)

SVC = "camguard"
GLOBAL = PolicyRow(
    "g1", SVC, "privacy", None, None, 3, {"blur_strength": 0.5, "blur_mode": "solid"}
)
ORG_A = PolicyRow("o1", SVC, "privacy", "acme", None, 2, {"blur_strength": 0.7})
CAM_1 = PolicyRow("c1", SVC, "privacy", "acme", "cam-1", 5, {"face_blur_enabled": False})
CAM_1_BLUR = PolicyRow("c2", SVC, "privacy", "acme", "cam-2", 1, {"blur_strength": 1.0})
SITE_N = PolicyRow(
    "s1", SVC, "privacy", "acme", None, 1, {"blur_mode": "pixelate"}, site_id="north"
)
OTHER_TYPE = PolicyRow("h1", SVC, "health", None, None, 1, {"offline_after_s": 5.0})
DEFAULTS = {"blur_strength": 0.8, "blur_mode": "gaussian", "face_blur_enabled": True}

ALL = [GLOBAL, ORG_A, CAM_1, CAM_1_BLUR, SITE_N, OTHER_TYPE]


@pytest.mark.parametrize(
    ("case", "rows", "scope", "expected"),
    [
        ("defaults only", [], {}, {"blur_strength": (0.8, None), "blur_mode": ("gaussian", None)}),
        (
            "global only",
            [GLOBAL],
            {"org_id": "acme", "camera_id": "cam-1"},
            {"blur_strength": (0.5, "g1"), "blur_mode": ("solid", "g1")},
        ),
        (
            "org override, partial fields",
            [GLOBAL, ORG_A],
            {"org_id": "acme", "camera_id": "cam-1"},
            {
                "blur_strength": (0.7, "o1"),
                "blur_mode": ("solid", "g1"),
                "face_blur_enabled": (True, None),
            },
        ),
        (
            "camera override keeps org and global fields",
            ALL,
            {"org_id": "acme", "camera_id": "cam-1"},
            {
                "blur_strength": (0.7, "o1"),
                "blur_mode": ("solid", "g1"),
                "face_blur_enabled": (False, "c1"),
            },
        ),
        (
            "another org sees only global",
            ALL,
            {"org_id": "globex", "camera_id": "cam-1"},
            {"blur_strength": (0.5, "g1"), "face_blur_enabled": (True, None)},
        ),
        (
            "camera row of another camera does not apply",
            ALL,
            {"org_id": "acme", "camera_id": "cam-9"},
            {"blur_strength": (0.7, "o1"), "face_blur_enabled": (True, None)},
        ),
        (
            "site between org and camera",
            ALL,
            {"org_id": "acme", "camera_id": "cam-2", "site_id": "north"},
            {"blur_strength": (1.0, "c2"), "blur_mode": ("pixelate", "s1")},
        ),
        (
            "order of rows does not matter",
            list(reversed(ALL)),
            {"org_id": "acme", "camera_id": "cam-1"},
            {"blur_strength": (0.7, "o1"), "face_blur_enabled": (False, "c1")},
        ),
        (
            "tombstoned camera row (absent) restores the org value",
            [GLOBAL, ORG_A],
            {"org_id": "acme", "camera_id": "cam-2"},
            {"blur_strength": (0.7, "o1")},
        ),
    ],
)
def test_resolution_table(
    case: str,
    rows: list[PolicyRow],
    scope: dict[str, str],
    expected: dict[str, tuple[Any, str | None]],
) -> None:
    effective = resolve_policy(rows, "privacy", defaults=DEFAULTS, **scope)
    for name, (value, row_id) in expected.items():
        assert effective.values[name] == value, case
        assert effective.provenance[name].row_id == row_id, case


def test_provenance_names_row_version_and_scope() -> None:
    effective = resolve_policy(ALL, "privacy", org_id="acme", camera_id="cam-1", defaults=DEFAULTS)
    source = effective.provenance["face_blur_enabled"]
    assert (source.scope, source.row_id, source.version) == ("camera", "c1", 5)
    assert source.key == "camguard/privacy/acme/cam-1"
    assert effective.provenance["blur_strength"].scope == "org"
    assert effective.version == 5


def test_version_is_none_when_only_defaults_apply() -> None:
    assert resolve_policy([OTHER_TYPE], "privacy", defaults=DEFAULTS).version is None


def test_equally_specific_rows_newest_wins() -> None:
    old = PolicyRow("a", SVC, "privacy", None, None, 9, {"blur_strength": 0.1}, updated_at_ms=1)
    new = PolicyRow("b", SVC, "privacy", None, None, 1, {"blur_strength": 0.9}, updated_at_ms=2)
    for rows in ([old, new], [new, old]):
        assert resolve_policy(rows, "privacy").values["blur_strength"] == 0.9


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        ((SVC, "privacy", None, None), "camguard/privacy/*/*"),
        ((SVC, "privacy", "acme", None), "camguard/privacy/acme/*"),
        ((SVC, "privacy", "acme", "cam-1"), "camguard/privacy/acme/cam-1"),
        ((SVC, "privacy", None, "cam-1"), "camguard/privacy/*/cam-1"),
    ],
)
def test_policy_key_round_trip(parts: tuple[str, str, str | None, str | None], key: str) -> None:
    assert policy_key(*parts) == key
    assert parse_policy_key(key) == PolicyKey(*parts)


def test_site_and_class_extend_the_key() -> None:
    key = policy_key(SVC, "privacy", "acme", None, "north", None)
    assert key == "camguard/privacy/acme/*/north/*"
    assert parse_policy_key(key).site_id == "north"


@pytest.mark.parametrize("bad", ["a/b", "*/privacy/*/*", "camguard/privacy/*", "c//x/*", ""])
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPolicyRecordError):
        parse_policy_key(bad)


def test_ids_that_would_break_the_key_are_refused() -> None:
    with pytest.raises(InvalidPolicyRecordError):
        policy_key(SVC, "privacy", "acme/x", None)
    with pytest.raises(InvalidPolicyRecordError):
        policy_key(SVC, "privacy", "*", None)
