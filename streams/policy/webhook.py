"""Supabase database webhooks on ``public.service_policies`` and what they produce (pure).

No I/O; time is passed in. Supabase sends ``{"type": "INSERT"|"UPDATE"|"DELETE", "table",
"schema", "record", "old_record"}`` with rows as JSON. Authentication, either of:

- HMAC: ``X-Camguard-Timestamp: <unix seconds>`` and
  ``X-Camguard-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``; the
  timestamp must be within the replay window and each signature is accepted once.
- Shared secret, what Supabase's webhook settings can send as a static header:
  ``X-Camguard-Webhook-Secret: <secret>`` or ``Authorization: Bearer <secret>``. A static header
  cannot prove freshness; replays of it are absorbed by the ``(id, version)`` idempotency.

Both compare in constant time. :func:`parse_body` decodes a body and :func:`parse_event`
validates the shape and the new row's config. :func:`plan_change` turns an authenticated event
into the records to produce; it consults the rows held (version ordering) and decides which
policy records and audit entries to produce: a newer version is produced, the same
``(id, version)`` is a duplicate (nothing produced), an older one is refused with 409. Errors
are typed; their ``status`` is the HTTP answer.

Supabase database webhooks are not retried, so a change can be missed. ``camguard policy sync``
reads every row of the table and the current state of the compacted topic, and
:func:`plan_sync` plans the reconciliation:

- every valid row is republished (under the active encryption key, which also completes a key
  rotation); rows that differ from the topic (absent, other id/version/config) are audited;
- every key the topic still holds but the table no longer has gets a tombstone (a missed
  DELETE), audited as a DELETE;
- rows whose config no longer validates are reported and not published.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from streams.codec import AvroCodec, CodecError
from streams.policy.avro import decode_policy_message
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import (
    MalformedPayloadError,
    PayloadTooLargeError,
    PolicyError,
    ReplayedRequestError,
    StaleTimestampError,
    StaleVersionError,
    UnauthenticatedError,
    UnsupportedPayloadError,
)
from streams.policy.models import validate_config
from streams.policy.resolve import Outcome, PolicyRow, Tombstone, delete_outcome, upsert_outcome

# --- authentication and decoding --------------------------------------------------------------

TIMESTAMP_HEADER = "x-camguard-timestamp"
SIGNATURE_HEADER = "x-camguard-signature"
SECRET_HEADER = "x-camguard-webhook-secret"  # noqa: S105 - a header name
AuthMethod = Literal["hmac", "shared_secret"]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (used by senders/tests)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class ReplayGuard:
    """Signatures accepted within the replay window (bounded; oldest forgotten first)."""

    def __init__(self, window_s: float, max_entries: int = 100_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, signature: str, now_s: float) -> None:
        """Record ``signature``; raise :class:`ReplayedRequestError` if seen and unexpired."""
        self._purge(now_s)
        if signature in self._seen:
            raise ReplayedRequestError("this signed request was already accepted")
        self._seen[signature] = now_s + self.window_s
        while len(self._seen) > self.max_entries:
            del self._seen[next(iter(self._seen))]

    def _purge(self, now_s: float) -> None:
        # Insertion order is expiry order (constant window), so expired entries lead.
        while self._seen:
            oldest = next(iter(self._seen))
            if self._seen[oldest] >= now_s:
                break
            del self._seen[oldest]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _sent_bytes(value: str) -> bytes:
    """A header value as the client sent it: aiohttp decodes undecodable bytes to lone
    surrogates (surrogateescape), which a plain ``encode()`` refuses with UnicodeEncodeError."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


@dataclass
class WebhookVerifier:
    """Checks size and authentication of webhook requests."""

    secret: bytes | None
    replay_window_s: float = 300.0
    max_body_bytes: int = 256 * 1024
    guard: ReplayGuard | None = None

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = ReplayGuard(self.replay_window_s)

    def check_size(self, declared_length: int | None, body: bytes | None = None) -> None:
        """Refuse a body over the limit, from Content-Length before reading when given."""
        size = len(body) if body is not None else declared_length
        if size is not None and size > self.max_body_bytes:
            raise PayloadTooLargeError(
                f"body of {size} bytes is over the limit of {self.max_body_bytes}"
            )

    def authenticate(self, headers: Mapping[str, str], body: bytes, now_s: float) -> AuthMethod:
        """Which method authenticated the request; raises 401/409 errors otherwise."""
        if not self.secret:
            raise UnauthenticatedError("webhook secret not configured (CAMGUARD_WEBHOOK_SECRET)")
        lower = _lower(headers)
        if SIGNATURE_HEADER in lower or TIMESTAMP_HEADER in lower:
            self._check_signature(lower, body, now_s)
            return "hmac"
        presented = lower.get(SECRET_HEADER)
        if presented is None:
            scheme, _, token = lower.get("authorization", "").partition(" ")
            presented = token.strip() if scheme.lower() == "bearer" else None
        if presented is None:
            raise UnauthenticatedError(
                f"missing {SIGNATURE_HEADER}/{TIMESTAMP_HEADER} or {SECRET_HEADER} header"
            )
        if not hmac.compare_digest(_sent_bytes(presented), self.secret):
            raise UnauthenticatedError("wrong webhook secret")
        return "shared_secret"

    def _check_signature(self, lower: Mapping[str, str], body: bytes, now_s: float) -> None:
        assert self.secret is not None
        timestamp = lower.get(TIMESTAMP_HEADER, "").strip()
        presented = lower.get(SIGNATURE_HEADER, "").strip()
        if not timestamp or not presented:
            raise UnauthenticatedError("both signature and timestamp headers are required")
        try:
            sent_at = float(timestamp) if timestamp.isascii() else math.nan
        except ValueError:
            sent_at = math.nan
        if not math.isfinite(sent_at):  # nan would pass the window check below, forever
            raise UnauthenticatedError("timestamp must be unix seconds")
        if abs(now_s - sent_at) > self.replay_window_s:
            raise StaleTimestampError(
                f"timestamp is {now_s - sent_at:.0f} s off; the window is "
                f"{self.replay_window_s:.0f} s"
            )
        expected = sign(self.secret, timestamp, body)
        candidates = [part.strip() for part in presented.split(",")]
        if not any(hmac.compare_digest(_sent_bytes(c), expected.encode()) for c in candidates):
            raise UnauthenticatedError("signature does not match the body")
        assert self.guard is not None
        self.guard.remember(expected, now_s)


def parse_body(body: bytes) -> WebhookEvent:
    """Decode and validate a Supabase webhook body for table public.service_policies."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayloadError(f"body is not JSON: {exc}") from exc
    except RecursionError:  # a few KiB of "[" nest deeper than the JSON decoder recurses
        raise MalformedPayloadError("body is not JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise MalformedPayloadError("body must be a JSON object")
    return parse_event(payload)


# --- events and what they produce -------------------------------------------------------------

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


# --- reconciling the topic with the table (`camguard policy sync`) ----------------------------


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
