"""PolicyManager: hot reload from a source, cache invalidation and TTL, last known good."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from streams.codec import AvroCodec, NotAvroError
from streams.policy.avro import row_to_record
from streams.policy.exceptions import InvalidPolicyRecordError, PoliciesNotLoadedError
from streams.policy.manager import PolicyManager
from streams.policy.models import HealthPolicy, PrivacyPolicy, UnknownPolicy
from streams.policy.resolve import PolicyRow
from streams.policy.sources import Apply, MemoryPolicySource, RetryingSource, retrying
from streams.settings import Settings
from tests.support.clock import FakeClock

CODEC = AvroCodec()
ORG = PolicyRow("o1", "camguard", "privacy", "acme", None, 1, {"blur_strength": 0.6}, 1)
CAM = PolicyRow("c1", "camguard", "privacy", "acme", "cam-1", 1, {"blur_strength": 0.2}, 2)


def message(row: PolicyRow) -> tuple[bytes, bytes]:
    return row.key.encode(), CODEC.encode("PolicyRecord", row_to_record(row, None))


def test_defaults_come_from_settings_with_no_rows() -> None:
    manager = PolicyManager.from_settings(Settings(face_blur_enabled=False))
    privacy, version = manager.effective_privacy("acme", "cam-1")
    assert privacy == PrivacyPolicy(face_blur_enabled=False)
    assert version is None


async def test_hot_reload_applies_backlog_then_live_changes() -> None:
    source = MemoryPolicySource()
    source.publish(*message(ORG))
    manager = PolicyManager("camguard", source=source)
    await manager.start_hot_reload(timeout_s=5)
    assert manager.ready.is_set()
    policy = await manager.get_policy("privacy", org_id="acme", camera_id="cam-1")
    assert isinstance(policy, PrivacyPolicy)
    assert policy.blur_strength == 0.6

    revision = manager.revision
    source.publish(*message(CAM))
    assert await manager.wait_for_change(revision, timeout_s=5)
    privacy, version = manager.effective_privacy("acme", "cam-1")
    assert (privacy.blur_strength, version) == (0.2, 1)

    revision = manager.revision
    source.publish(CAM.key.encode(), None)
    assert await manager.wait_for_change(revision, timeout_s=5)
    assert manager.effective_privacy("acme", "cam-1")[0].blur_strength == 0.6
    await manager.stop_hot_reload()


def test_bad_record_keeps_the_last_known_good() -> None:
    manager = PolicyManager("camguard")
    manager.apply_message(*message(CAM))
    record = row_to_record(replace(CAM, version=2), None)
    bad = CODEC.encode("PolicyRecord", {**record, "config": '{"blur_strength": "max"}'})
    with pytest.raises(InvalidPolicyRecordError):
        manager.apply_message(CAM.key.encode(), bad)
    with pytest.raises(NotAvroError):
        manager.apply_message(CAM.key.encode(), b"garbage")
    with pytest.raises(InvalidPolicyRecordError):
        manager.apply_message(b"no-slashes", None)
    assert manager.effective_privacy("acme", "cam-1")[0].blur_strength == 0.2
    assert manager.stats.rejected == 3
    assert manager.stats.last_rejection is not None


def test_cache_is_invalidated_by_an_update_and_expires_after_ttl() -> None:
    clock = FakeClock(100.0)
    manager = PolicyManager("camguard", cache_ttl_s=10, clock=clock)
    manager.apply_row(ORG)
    first = manager.policy("privacy", org_id="acme", camera_id="cam-1")
    assert manager.policy("privacy", org_id="acme", camera_id="cam-1") is first
    manager.apply_row(replace(ORG, version=2, config={"blur_strength": 0.9}, updated_at_ms=5))
    second = manager.policy("privacy", org_id="acme", camera_id="cam-1")
    assert isinstance(second, PrivacyPolicy)
    assert second.blur_strength == 0.9
    clock.now += 11
    assert manager.policy("privacy", org_id="acme", camera_id="cam-1") is not second


def test_changes_of_other_services_and_types_do_not_touch_the_cache() -> None:
    manager = PolicyManager("camguard")
    cached = manager.policy("privacy", org_id="acme")
    manager.apply_row(replace(ORG, id="x", service_name="antitheft-svc"))
    manager.apply_row(PolicyRow("h", "camguard", "health", None, None, 1, {"offline_after_s": 9.0}))
    assert manager.policy("privacy", org_id="acme") is cached
    health = manager.policy("health")
    assert isinstance(health, HealthPolicy)
    assert health.offline_after_s == 9.0


def test_older_versions_from_the_topic_are_ignored() -> None:
    manager = PolicyManager("camguard")
    manager.apply_row(replace(CAM, version=3))
    manager.apply_message(*message(CAM))
    assert manager.stats.stale == 1
    assert manager.effective("privacy", org_id="acme", camera_id="cam-1").version == 3


def test_unknown_policy_types_are_served_flagged() -> None:
    manager = PolicyManager("camguard")
    manager.apply_row(PolicyRow("r", "camguard", "retention", None, None, 1, {"days": 30}))
    policy = manager.policy("retention")
    assert isinstance(policy, UnknownPolicy)
    assert policy.flagged
    assert "retention" in manager.policy_types()


def test_listeners_hear_changes() -> None:
    manager = PolicyManager("camguard")
    heard: list[str] = []
    stop = manager.on_change(lambda key, row: heard.append(key))
    manager.apply_row(ORG)
    stop()
    manager.apply_row(CAM)
    assert heard == [ORG.key]


class RefusingSource:
    """Refuses ``refusals`` times with aiokafka's real authorization error, then delivers."""

    def __init__(self, refusals: int, then: MemoryPolicySource) -> None:
        self.refusals = refusals
        self.then = then
        self.runs = 0

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        self.runs += 1
        if self.runs <= self.refusals:
            raise TopicAuthorizationFailedError("service.policies")
        await self.then.run(apply, ready)


async def test_until_its_source_has_read_the_topic_privacy_fails_closed() -> None:
    """A worker that could not read service.policies at start: the privacy lookup raises (the
    frames agent then blurs every kind) until the retrying source gets the backlog in."""
    backlog = MemoryPolicySource()
    backlog.publish(*message(replace(CAM, config={"face_blur_enabled": False})))
    refusing = RefusingSource(2, backlog)
    source = RetryingSource(refusing, retry_s=0.01)
    manager = PolicyManager("camguard", source=source, fail_closed_until_ready=True)
    with pytest.raises(PoliciesNotLoadedError) as raised:
        manager.effective_privacy("acme", "cam-1")
    assert raised.value.reason == "policies_not_loaded"
    assert manager.effective("resilience").version is None  # other types: defaults meanwhile

    follower = asyncio.create_task(manager.follow())
    try:
        await asyncio.wait_for(manager.ready.wait(), 5)
        privacy, version = manager.effective_privacy("acme", "cam-1")
        assert (privacy.face_blur_enabled, version) == (False, 1)
        assert refusing.runs == 3
        assert source.attempts == 3
        assert source.last_error is not None
        assert "TopicAuthorizationFailed" in source.last_error
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower


def test_without_the_flag_defaults_answer_before_ready() -> None:
    manager = PolicyManager("camguard")
    assert not manager.ready.is_set()
    assert manager.effective_privacy("acme", "cam-1") == (PrivacyPolicy(), None)


async def test_retrying_starts_again_after_listed_errors_only() -> None:
    """The one retry loop of the policy readers (the retrying source, the validator)."""
    attempts: list[int] = []
    seen: list[Exception] = []

    async def flaky() -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise TopicAuthorizationFailedError("service.policies")

    await retrying(flaky, seen.append, (TopicAuthorizationFailedError,), retry_s=0.0)
    assert len(attempts) == 3
    assert [type(e) for e in seen] == [TopicAuthorizationFailedError] * 2

    async def broken() -> None:
        raise ValueError("a bug, not the broker")

    with pytest.raises(ValueError, match="a bug"):
        await retrying(broken, seen.append, (TopicAuthorizationFailedError,), retry_s=0.0)
    assert len(seen) == 2
