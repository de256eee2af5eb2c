"""Webhook authentication, payload validation and version ordering (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.policy.exceptions import (
    InvalidPolicyConfigError,
    InvalidPolicyRecordError,
    MalformedPayloadError,
    PayloadTooLargeError,
    ReplayedRequestError,
    StaleTimestampError,
    StaleVersionError,
    UnauthenticatedError,
    UnsupportedPayloadError,
)
from streams.policy.resolve import Outcome, PolicyBook
from streams.policy.webhook import (
    WebhookVerifier,
    parse_body,
    parse_event,
    plan_change,
    row_from_supabase,
    sign,
)

SECRET = b"s3cret-for-tests"
NOW = 1_700_000_000.0


def row(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "8d0f6c1e-0000-4000-8000-000000000001",
        "org_id": "acme",
        "camera_id": "cam-1",
        "class_id": None,
        "site_id": None,
        "service_name": "camguard",
        "policy_type": "privacy",
        "config": {"blur_strength": 0.9},
        "version": 2,
        "created_at": "2024-05-01T10:00:00+00:00",
        "updated_at": "2024-05-01T12:00:00.123456+00:00",
    }
    return {**base, **overrides}


def payload(kind: str = "UPDATE", **parts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "table": "service_policies",
        "schema": "public",
        "record": row(),
        "old_record": row(version=1, config={"blur_strength": 0.5}),
    }
    return {**body, **parts}


def signed(body: bytes, at: float = NOW) -> dict[str, str]:
    ts = str(int(at))
    return {"X-Camguard-Timestamp": ts, "X-Camguard-Signature": sign(SECRET, ts, body)}


def verifier() -> WebhookVerifier:
    return WebhookVerifier(SECRET, replay_window_s=300.0, max_body_bytes=4096)


# --- authentication ---------------------------------------------------------------------


def test_valid_hmac_signature_is_accepted() -> None:
    body = json.dumps(payload()).encode()
    assert verifier().authenticate(signed(body), body, NOW) == "hmac"


def test_signature_over_another_body_is_refused() -> None:
    body = json.dumps(payload()).encode()
    with pytest.raises(UnauthenticatedError) as info:
        verifier().authenticate(signed(b"{}"), body, NOW)
    assert info.value.status == 401


def test_unsigned_request_is_refused() -> None:
    with pytest.raises(UnauthenticatedError, match="missing"):
        verifier().authenticate({}, b"{}", NOW)


@pytest.mark.parametrize("skew", [-301.0, 301.0, 10_000.0])
def test_timestamp_outside_the_window_is_refused(skew: float) -> None:
    body = b"{}"
    with pytest.raises(StaleTimestampError) as info:
        verifier().authenticate(signed(body, NOW + skew), body, NOW)
    assert info.value.status == 401


def test_replayed_signed_request_is_refused_then_forgotten_after_the_window() -> None:
    check = verifier()
    body = b'{"a":1}'
    headers = signed(body)
    check.authenticate(headers, body, NOW)
    with pytest.raises(ReplayedRequestError) as info:
        check.authenticate(headers, body, NOW + 1)
    assert info.value.status == 409
    later = signed(body, NOW + 1000)
    assert check.authenticate(later, body, NOW + 1000) == "hmac"
    assert len(check.guard or []) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Camguard-Webhook-Secret": SECRET.decode()},
        {"Authorization": f"Bearer {SECRET.decode()}"},
    ],
)
def test_shared_secret_header_is_accepted(headers: dict[str, str]) -> None:
    assert verifier().authenticate(headers, b"{}", NOW) == "shared_secret"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Camguard-Webhook-Secret": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET.decode()}"},
    ],
)
def test_wrong_shared_secret_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(UnauthenticatedError):
        verifier().authenticate(headers, b"{}", NOW)


def test_without_a_configured_secret_everything_is_refused() -> None:
    with pytest.raises(UnauthenticatedError, match="not configured"):
        WebhookVerifier(None).authenticate({"X-Camguard-Webhook-Secret": ""}, b"{}", NOW)


def test_body_over_the_limit_is_refused_before_and_after_reading() -> None:
    with pytest.raises(PayloadTooLargeError) as info:
        verifier().check_size(10_000)
    assert info.value.status == 413
    with pytest.raises(PayloadTooLargeError):
        verifier().check_size(None, b"x" * 4097)
    verifier().check_size(4096, b"x" * 4096)


# --- payload validation -----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1,2]", b'"text"'])
def test_non_json_or_non_object_body_is_400(body: bytes) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        parse_body(body)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"table": "cameras"}, "table"),
        ({"schema": "auth"}, "schema"),
        ({"type": "TRUNCATE"}, "type"),
        ({"record": None}, "record"),
        ({"record": row(version="3")}, "version"),
        ({"record": row(policy_type="")}, "policy_type"),
        ({"record": row(org_id=7)}, "org_id"),
    ],
)
def test_unsupported_payloads_are_422(parts: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedPayloadError, match=message) as info:
        parse_body(json.dumps(payload(**parts)).encode())
    assert info.value.status == 422


def test_invalid_config_values_are_422_with_the_field() -> None:
    with pytest.raises(InvalidPolicyConfigError, match="blur_strength") as info:
        parse_event(payload(record=row(config={"blur_strength": 7})))
    assert info.value.status == 422


def test_ids_that_break_the_policy_key_are_422() -> None:
    with pytest.raises(InvalidPolicyRecordError) as info:
        parse_event(payload(record=row(camera_id="a/b")))
    assert info.value.status == 422


def test_unknown_policy_type_is_accepted_as_raw_json() -> None:
    event = parse_event(payload(record=row(policy_type="retention", config={"days": 30})))
    assert event.record is not None
    assert dict(event.record.config) == {"days": 30}


def test_invalid_old_record_config_does_not_block_a_fix() -> None:
    event = parse_event(payload(old_record=row(version=1, config={"blur_strength": 7})))
    assert event.old_record is not None
    assert event.old_record.config["blur_strength"] == 7


def test_timestamps_are_parsed_to_epoch_ms() -> None:
    parsed = row_from_supabase(row(updated_at="2024-05-01T12:00:00Z"))
    assert parsed.updated_at_ms == 1_714_564_800_000


# --- version ordering -------------------------------------------------------------------


def test_newer_version_is_planned_with_audit() -> None:
    plan = plan_change(parse_event(payload()), PolicyBook())
    assert plan.outcome is Outcome.APPLIED
    [(key, produced)] = plan.records
    assert key == "camguard/privacy/acme/cam-1"
    assert produced is not None
    assert produced.version == 2
    [entry] = plan.audit
    assert entry.operation == "UPDATE"
    assert entry.old is not None
    assert entry.old.version == 1


def test_same_id_and_version_is_idempotent() -> None:
    book = PolicyBook()
    event = parse_event(payload())
    assert event.record is not None
    book.upsert(event.record)
    plan = plan_change(event, book)
    assert plan.outcome is Outcome.DUPLICATE
    assert plan.records == ()
    assert plan.audit == ()


def test_older_version_than_held_is_409() -> None:
    book = PolicyBook()
    newer = parse_event(payload(record=row(version=5))).record
    assert newer is not None
    book.upsert(newer)
    with pytest.raises(StaleVersionError) as info:
        plan_change(parse_event(payload()), book)
    assert info.value.status == 409


def test_delete_produces_a_tombstone_and_is_idempotent() -> None:
    book = PolicyBook()
    current = parse_event(payload()).record
    assert current is not None
    book.upsert(current)
    event = parse_event(payload("DELETE", record=None, old_record=row()))
    plan = plan_change(event, book)
    assert plan.records == ((current.key, None),)
    assert plan.audit[0].operation == "DELETE"
    book.delete(current.key)
    assert plan_change(event, book).outcome is Outcome.DUPLICATE


def test_delete_of_an_older_version_is_409() -> None:
    book = PolicyBook()
    current = parse_event(payload(record=row(version=3))).record
    assert current is not None
    book.upsert(current)
    with pytest.raises(StaleVersionError):
        plan_change(parse_event(payload("DELETE", old_record=row(version=2))), book)


def test_scope_change_tombstones_the_old_key() -> None:
    book = PolicyBook()
    before = row(camera_id="cam-1", version=1)
    old = row_from_supabase(before)
    book.upsert(old)
    event = parse_event(payload(record=row(camera_id="cam-2", version=2), old_record=before))
    plan = plan_change(event, book)
    keys = [(key, produced is None) for key, produced in plan.records]
    assert keys == [("camguard/privacy/acme/cam-1", True), ("camguard/privacy/acme/cam-2", False)]
    assert [e.operation for e in plan.audit] == ["DELETE", "UPDATE"]
