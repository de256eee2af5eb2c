"""Supabase database-webhook events on ``public.service_policies`` and what they produce (pure).

Supabase sends ``{"type": "INSERT"|"UPDATE"|"DELETE", "table", "schema", "record",
"old_record"}`` with rows as JSON. :func:`parse_event` validates the shape and the new row's
config; :func:`plan_change` decides, against the rows held, which policy records and audit
entries to produce: a newer version is produced, the same ``(id, version)`` is a duplicate
(nothing produced), an older one is refused with 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from streams.policy.book import Outcome, Tombstone, delete_outcome, upsert_outcome
from streams.policy.exceptions import StaleVersionError, UnsupportedPayloadError
from streams.policy.models import validate_config
from streams.policy.resolve import PolicyRow

TABLE = "service_policies"
SCHEMA = "public"
EventType = Literal["INSERT", "UPDATE", "DELETE"]
EVENT_TYPES: tuple[EventType, ...] = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class WebhookEvent:
    """A validated webhook event: the new row (INSERT/UPDATE) and the old one (UPDATE/DELETE)."""

    type: EventType
    record: PolicyRow | None
    old_record: PolicyRow | None


def _optional_text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise UnsupportedPayloadError(f"{name} must be a string or null")


def _required_text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise UnsupportedPayloadError(f"{name} must be a non-empty string")
    return value


def _millis(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    raise UnsupportedPayloadError(f"updated_at {value!r} is not an ISO timestamp")


def row_from_supabase(record: object, *, strict: bool = True) -> PolicyRow:
    """A :class:`PolicyRow` from a webhook row; ``strict`` validates the config too.

    Non-strict parsing (used for ``old_record``) keeps a config that no longer validates, so
    a bad old row never blocks fixing or deleting it.
    """
    if not isinstance(record, Mapping):
        raise UnsupportedPayloadError("record must be a JSON object")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise UnsupportedPayloadError("version must be a non-negative integer")
    policy_type = _required_text(record, "policy_type")
    raw_config = record.get("config", {})
    if strict:
        config = validate_config(policy_type, raw_config)
    elif isinstance(raw_config, Mapping):
        config = dict(raw_config)
    else:
        config = {}
    row = PolicyRow(
        id=_required_text(record, "id"),
        service_name=_required_text(record, "service_name"),
        policy_type=policy_type,
        org_id=_optional_text(record, "org_id"),
        camera_id=_optional_text(record, "camera_id"),
        version=version,
        config=MappingProxyType(config),
        updated_at_ms=_millis(record.get("updated_at", record.get("created_at"))),
        site_id=_optional_text(record, "site_id"),
        class_id=_optional_text(record, "class_id"),
    )
    _ = row.key  # raises InvalidPolicyRecordError (422) for ids that break the key
    return row


def parse_event(payload: Mapping[str, Any]) -> WebhookEvent:
    """Validate a decoded webhook payload; errors carry status 422."""
    kind = payload.get("type")
    if kind not in EVENT_TYPES:
        raise UnsupportedPayloadError(f"type must be one of {', '.join(EVENT_TYPES)}; got {kind!r}")
    if payload.get("table") != TABLE:
        raise UnsupportedPayloadError(f"table must be {TABLE!r}; got {payload.get('table')!r}")
    if payload.get("schema", SCHEMA) != SCHEMA:
        raise UnsupportedPayloadError(f"schema must be {SCHEMA!r}; got {payload.get('schema')!r}")
    record = old = None
    if kind != "DELETE":
        record = row_from_supabase(payload.get("record"), strict=True)
    if kind == "DELETE" or (kind == "UPDATE" and payload.get("old_record") is not None):
        old = row_from_supabase(payload.get("old_record"), strict=False)
    return WebhookEvent(kind, record, old)


class HeldRows(Protocol):
    """What :func:`plan_change` reads of the rows held (a PolicyBook fits)."""

    def get(self, key: str) -> PolicyRow | None: ...
    def tombstone(self, key: str) -> Tombstone | None: ...


@dataclass(frozen=True)
class AuditEntry:
    """One change for service.policies.audit."""

    key: str
    operation: EventType
    old: PolicyRow | None
    new: PolicyRow | None


@dataclass(frozen=True)
class ChangePlan:
    """What to produce for one accepted event: (key, row or None = tombstone) and audit."""

    outcome: Outcome
    records: tuple[tuple[str, PolicyRow | None], ...]
    audit: tuple[AuditEntry, ...]


def _stale(key: str, held: PolicyRow | None, incoming: PolicyRow) -> StaleVersionError:
    holding = "a deleted row" if held is None else f"row {held.id} version {held.version}"
    return StaleVersionError(
        f"{key}: row {incoming.id} version {incoming.version} is older than {holding}; ignored"
    )


def plan_change(event: WebhookEvent, held: HeldRows) -> ChangePlan:
    """Records and audit entries for ``event``; raises StaleVersionError (409) if outdated."""
    if event.type == "DELETE":
        assert event.old_record is not None
        gone = event.old_record
        current = held.get(gone.key)
        if delete_outcome(current, gone.id, gone.version) is Outcome.STALE:
            raise _stale(gone.key, current, gone)
        buried = held.tombstone(gone.key)
        if current is None and buried == Tombstone(gone.id, gone.version):
            return ChangePlan(Outcome.DUPLICATE, (), ())
        entry = AuditEntry(gone.key, "DELETE", gone, None)
        return ChangePlan(Outcome.DELETED, ((gone.key, None),), (entry,))
    assert event.record is not None
    new = event.record
    current = held.get(new.key)
    outcome = upsert_outcome(current, held.tombstone(new.key), new)
    if outcome is Outcome.STALE:
        raise _stale(new.key, current, new)
    if outcome is Outcome.DUPLICATE:
        return ChangePlan(outcome, (), ())
    records: list[tuple[str, PolicyRow | None]] = []
    audit: list[AuditEntry] = []
    old = event.old_record or current
    if event.old_record is not None and event.old_record.key != new.key:
        moved_from = event.old_record.key
        if delete_outcome(held.get(moved_from), new.id, new.version) is not Outcome.STALE:
            records.append((moved_from, None))
            audit.append(AuditEntry(moved_from, "DELETE", event.old_record, None))
        old = current
    records.append((new.key, new))
    audit.append(AuditEntry(new.key, event.type, old, new))
    return ChangePlan(outcome, tuple(records), tuple(audit))
