"""Planning `camguard policy sync`: republish the table, tombstone what it no longer has."""

from __future__ import annotations

from dataclasses import replace

from streams.codec import AvroCodec
from streams.policy.avro import row_to_record
from streams.policy.resolve import PolicyRow
from streams.policy.webhook import InvalidRow, plan_sync

CODEC = AvroCodec()
A = PolicyRow("a", "camguard", "privacy", "acme", None, 2, {"blur_strength": 0.5}, 10)
B = PolicyRow("b", "camguard", "health", None, None, 1, {"offline_after_s": 9.0}, 10)
GONE = PolicyRow("g", "camguard", "privacy", "acme", "cam-9", 1, {}, 10)


def encoded(row: PolicyRow) -> bytes:
    return CODEC.encode("PolicyRecord", row_to_record(row, None))


def test_everything_is_republished_and_only_differences_are_audited() -> None:
    topic = {A.key: encoded(replace(A, version=1)), B.key: encoded(B), GONE.key: encoded(GONE)}
    result = plan_sync([A, B], [], topic, CODEC, None)
    assert [key for key, _ in result.plan.records] == [*sorted([A.key, B.key]), GONE.key]
    assert result.plan.records[-1] == (GONE.key, None)
    assert [(e.key, e.operation) for e in result.plan.audit] == [
        (A.key, "UPDATE"),
        (GONE.key, "DELETE"),
    ]
    assert (result.republished, result.changed, result.deleted) == (2, 1, 1)


def test_a_second_sync_changes_nothing() -> None:
    topic = {A.key: encoded(A), B.key: encoded(B)}
    result = plan_sync([A, B], [], topic, CODEC, None)
    assert (result.changed, result.deleted) == (0, 0)
    assert result.plan.audit == ()


def test_tombstoned_and_junk_keys() -> None:
    topic: dict[str, bytes | None] = {A.key: None, "junk": b"not avro"}
    result = plan_sync([A], [], topic, CODEC, None)
    assert [(e.key, e.operation) for e in result.plan.audit] == [
        (A.key, "INSERT"),
        ("junk", "DELETE"),
    ]


def test_invalid_rows_are_reported_and_their_last_good_version_kept() -> None:
    topic = {A.key: encoded(A)}
    bad = InvalidRow("a", "invalid_config: blur_strength", A.key)
    result = plan_sync([], [bad], topic, CODEC, None)
    assert result.plan.records == ()
    assert result.invalid == [bad]
