"""Publishing changes, encrypted at rest, and what GET /policies shows to whom."""

from __future__ import annotations

import base64
import json

import pytest

from streams.codec import AvroCodec
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import InvalidPolicyRecordError
from streams.policy.manager import PolicyManager
from streams.policy.resolve import PolicyBook
from streams.policy.topic import MemoryPolicySink, PolicyPublisher
from streams.policy.webhook import parse_body, parse_event, plan_change
from streams.web.policies import is_authorised, policies_document
from tests.support.policy import supabase_row, webhook_body

CODEC = AvroCodec()
KEY = "k1:" + base64.b64encode(bytes(range(32))).decode()


async def published(cipher: PolicyCipher | None) -> MemoryPolicySink:
    sink = MemoryPolicySink()
    row = supabase_row(org_id="acme", camera_id="cam-1", config={"blur_strength": 0.3})
    plan = plan_change(parse_body(webhook_body("INSERT", row)), PolicyBook())
    await PolicyPublisher(sink, CODEC, cipher).publish_plan(plan, "webhook", 1_700_000_000_000)
    return sink


async def test_encrypted_changes_apply_only_where_the_key_is_known() -> None:
    cipher = PolicyCipher.from_setting(KEY)
    sink = await published(cipher)
    [(key, value)] = sink.policies
    assert value is not None
    record = CODEC.decode_as("PolicyRecord", value)
    assert record["encrypted"] is True
    assert "blur_strength" not in record["config"]
    [(_, audit)] = sink.audit
    change = CODEC.decode_as("PolicyChange", audit)
    assert change["new"]["encrypted"] is True
    assert change["actor"] == "webhook"

    with_key = PolicyManager("camguard", cipher=cipher)
    with_key.apply_message(key, value)
    assert with_key.effective_privacy("acme", "cam-1")[0].blur_strength == 0.3
    without_key = PolicyManager("camguard")
    with pytest.raises(InvalidPolicyRecordError):
        without_key.apply_message(key, value)


async def test_plain_changes_carry_json_and_an_insert_audit() -> None:
    sink = await published(None)
    [(_, value)] = sink.policies
    assert value is not None
    assert json.loads(CODEC.decode_as("PolicyRecord", value)["config"]) == {"blur_strength": 0.3}
    change = CODEC.decode_as("PolicyChange", sink.audit[0][1])
    assert (change["operation"], change["old"], change["new"]["version"]) == ("INSERT", None, 1)


def manager_with_rows() -> PolicyManager:
    manager = PolicyManager("camguard")
    for record in (
        supabase_row(org_id="acme", config={"blur_strength": 0.6}),
        supabase_row(org_id="acme", camera_id="cam-1", config={"face_blur_enabled": False}),
        supabase_row(policy_type="retention", config={"days": 30}),
    ):
        event = parse_event(json.loads(webhook_body("INSERT", record)))
        assert event.record is not None
        manager.apply_row(event.record)
    return manager


def test_global_view_has_the_seed_shape() -> None:
    doc = policies_document(manager_with_rows(), {}, show_values=True)
    assert set(doc.policies) >= {"privacy", "antitheft", "resilience", "health", "retention"}
    assert doc.policies["privacy"]["blur_strength"] == 0.8
    assert doc.policies["retention"] == {"days": 30}
    assert doc.flagged == ["retention"]
    assert doc.provenance == {}


def test_scoped_view_has_effective_values_and_provenance() -> None:
    doc = policies_document(
        manager_with_rows(), {"org_id": "acme", "camera_id": "cam-1"}, show_values=True
    )
    assert doc.policies["privacy"]["blur_strength"] == 0.6
    assert doc.policies["privacy"]["face_blur_enabled"] is False
    assert doc.provenance["privacy"]["blur_strength"].scope == "org"
    assert doc.provenance["privacy"]["face_blur_enabled"].scope == "camera"
    assert doc.provenance["privacy"]["mask_shape"].scope == "default"
    assert doc.versions["privacy"] == 1


def test_redacted_view_hides_values_but_not_provenance() -> None:
    doc = policies_document(
        manager_with_rows(), {"org_id": "acme", "camera_id": "cam-1"}, show_values=False
    )
    assert doc.redacted
    assert doc.policies["privacy"] == {}
    assert doc.provenance["privacy"]["face_blur_enabled"].scope == "camera"


@pytest.mark.parametrize(
    ("headers", "token", "expected"),
    [
        ({"Authorization": "Bearer t0ken"}, "t0ken", True),
        ({"authorization": "bearer t0ken"}, "t0ken", True),
        ({"Authorization": "Bearer wrong"}, "t0ken", False),
        ({}, "t0ken", False),
        ({"Authorization": "Bearer "}, None, False),
    ],
)
def test_only_the_admin_token_sees_plaintext(
    headers: dict[str, str], token: str | None, expected: bool
) -> None:
    assert is_authorised(headers, token) is expected
