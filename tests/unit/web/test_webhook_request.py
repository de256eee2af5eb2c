"""POST /webhooks/supabase refuses what its OpenAPI document refuses (found by schemathesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.contract.policy_http import WebhookRequest
from streams.policy.exceptions import UnsupportedPayloadError
from streams.policy.webhook import parse_body
from streams.web.policies import validate_request
from tests.support.policy import supabase_row, webhook_body


def body(**record: Any) -> bytes:
    row = {"id": "row-1", "service_name": "camguard", "policy_type": "privacy", "version": 1}
    payload = {"type": "INSERT", "table": "service_policies", "schema": "public"}
    return json.dumps(payload | {"record": row | record}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        body(version=2**63),  # was a 500: OverflowError encoding the Avro long
        body(updated_at=2**63),  # the same, in timestamp-millis
        body(version=2**53),  # past what a JavaScript reader of the record reads exactly
        body(id="\ud800"),  # was a 500: a lone surrogate cannot be encoded to UTF-8
        body(org_id="a\ud83d"),
    ],
)
def test_what_parses_but_no_policy_record_can_carry_is_422(raw: bytes) -> None:
    parse_body(raw)  # the payload parser alone let these through to the producer
    with pytest.raises(UnsupportedPayloadError) as refused:
        validate_request(raw)
    assert refused.value.status == 422


@pytest.mark.parametrize("kind", ["INSERT", "UPDATE", "DELETE"])
def test_what_supabase_sends_is_accepted(kind: Any) -> None:
    row = supabase_row(org_id="acme", camera_id="cam-1", config={"blur_faces": True})
    sent = webhook_body(kind, row, supabase_row(org_id="acme") if kind != "INSERT" else None)
    request = validate_request(sent).root
    assert request.type == kind
    assert request.db_schema == "public"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "INSERT", "record": None},  # found by schemathesis: valid per the old document
        {"type": "UPDATE"},
        {"type": "DELETE", "record": {"id": "x"}},
    ],
)
def test_each_event_type_requires_its_row(payload: dict[str, Any]) -> None:
    raw = json.dumps({"table": "service_policies"} | payload).encode()
    with pytest.raises(UnsupportedPayloadError):
        parse_body(raw)
    with pytest.raises(UnsupportedPayloadError):
        validate_request(raw)


def test_the_documented_row_matches_the_policy_key_rules() -> None:
    schema = WebhookRequest.model_json_schema()["$defs"]["PolicyRowPayload"]
    assert schema["properties"]["version"]["maximum"] == 2**53 - 1
    part = schema["properties"]["service_name"]["pattern"]
    assert part == "^([^/*][^/]*|\\*[^/]+)$"
    for refused in ("a/b", "*", ""):
        with pytest.raises(UnsupportedPayloadError):
            validate_request(body(service_name=refused))
