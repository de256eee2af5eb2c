"""Reconciling service.policies with the service_policies table (pure planning).

Supabase database webhooks are not retried, so a change can be missed. ``camguard policy sync``
reads every row of the table and the current state of the compacted topic and plans:

- every valid row is republished (under the active encryption key, which also completes a key
  rotation); rows that differ from the topic (absent, other id/version/config) are audited;
- every key the topic still holds but the table no longer has gets a tombstone (a missed
  DELETE), audited as a DELETE;
- rows whose config no longer validates are reported and not published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.codec import AvroCodec, CodecError
from streams.policy.book import Outcome
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import PolicyError
from streams.policy.payload import AuditEntry, ChangePlan, EventType
from streams.policy.records import decode_policy_message
from streams.policy.resolve import PolicyRow


@dataclass(frozen=True)
class InvalidRow:
    """A table row that cannot be published, and why."""

    row_id: str
    error: str
    key: str | None = None


@dataclass
class SyncPlan:
    """What ``camguard policy sync`` will produce."""

    plan: ChangePlan
    republished: int = 0
    changed: int = 0
    deleted: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)


def _held(
    codec: AvroCodec, topic: Mapping[str, bytes | None], cipher: PolicyCipher | None
) -> dict[str, PolicyRow | None]:
    """Decoded topic state; an undecodable value counts as held-but-unknown (None)."""
    held: dict[str, PolicyRow | None] = {}
    for key, value in topic.items():
        if value is None:
            continue
        try:
            held[key] = decode_policy_message(codec, key, value, cipher)[1]
        except (PolicyError, CodecError):
            held[key] = None
    return held


def _same(a: PolicyRow | None, b: PolicyRow) -> bool:
    return a is not None and (a.id, a.version, dict(a.config)) == (b.id, b.version, dict(b.config))


def plan_sync(
    rows: Iterable[PolicyRow],
    invalid: Iterable[InvalidRow],
    topic: Mapping[str, bytes | None],
    codec: AvroCodec,
    cipher: PolicyCipher | None,
) -> SyncPlan:
    """Records and audit entries that make the topic equal to the table."""
    held = _held(codec, topic, cipher)
    records: list[tuple[str, PolicyRow | None]] = []
    audit: list[AuditEntry] = []
    result = SyncPlan(ChangePlan(Outcome.APPLIED, (), ()), invalid=list(invalid))
    # A row that no longer validates keeps its last good version on the topic.
    in_table: set[str] = {bad.key for bad in result.invalid if bad.key is not None}
    for row in sorted(rows, key=lambda r: (r.key, r.updated_at_ms)):
        in_table.add(row.key)
        records.append((row.key, row))
        result.republished += 1
        previous = held.get(row.key)
        if not _same(previous, row):
            result.changed += 1
            operation: EventType = "INSERT" if row.key not in held else "UPDATE"
            audit.append(AuditEntry(row.key, operation, previous, row))
    for key in sorted(set(held) - in_table):
        records.append((key, None))
        audit.append(AuditEntry(key, "DELETE", held[key], None))
        result.deleted += 1
    result.plan = ChangePlan(Outcome.APPLIED, tuple(records), tuple(audit))
    return result
