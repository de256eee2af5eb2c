"""Policy rows, their keys and hierarchical resolution, and the rows one process holds (pure).

Rows of ``service_policies`` form layers; the most specific layer wins, field by field:

    settings defaults < global (no scope) < org < org + site < camera (org + camera)

``class_id`` narrows a row further (it only applies when the caller asks for that class) and
ranks below the scopes above. Every effective value carries its provenance: the row id and
version (or ``default``) it came from. Ties between equally specific rows go to the newest
``updated_at``, then the higher version, then the row id, so every worker resolves alike.

Policy key on ``service.policies``: ``{service}/{policy_type}/{org_id or *}/{camera_id or *}``;
a row with a site_id or class_id appends ``/{site_id or *}/{class_id or *}`` so such rows do not
overwrite the plain one under compaction.

:class:`PolicyBook` holds the rows one process knows, with version ordering and tombstones (no
I/O). It is what every worker keeps in memory, fed from the compacted topic. It is idempotent by
``(id, version)``: a record seen twice is a duplicate, a lower version of the row held at that
key is stale and ignored, and a late update of a row that was deleted is ignored too (the
tombstone remembers the deleted ``(id, version)``). A different row id at the same key (the row
was deleted and re-created, or moved there) replaces the held one unless it is older.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from streams.policy.exceptions import InvalidPolicyRecordError

WILDCARD = "*"
Scope = Literal["default", "global", "org", "site", "camera"]


def _part(value: str | None, name: str) -> str:
    if value is None:
        return WILDCARD
    if not value or value == WILDCARD or "/" in value:
        raise InvalidPolicyRecordError(f"{name} {value!r} cannot be used in a policy key")
    return value


def policy_key(
    service_name: str,
    policy_type: str,
    org_id: str | None,
    camera_id: str | None,
    site_id: str | None = None,
    class_id: str | None = None,
) -> str:
    """The compacted-topic key of a policy row (see the module docstring)."""
    parts = [
        _part(service_name, "service_name"),
        _part(policy_type, "policy_type"),
        _part(org_id, "org_id"),
        _part(camera_id, "camera_id"),
    ]
    if site_id is not None or class_id is not None:
        parts += [_part(site_id, "site_id"), _part(class_id, "class_id")]
    return "/".join(parts)


@dataclass(frozen=True)
class PolicyKey:
    """The parts of a policy key; ``None`` where the key holds ``*``."""

    service_name: str
    policy_type: str
    org_id: str | None
    camera_id: str | None
    site_id: str | None = None
    class_id: str | None = None


def parse_policy_key(key: str) -> PolicyKey:
    """Split a policy key; raises :class:`InvalidPolicyRecordError` when malformed."""
    parts = key.split("/")
    if len(parts) not in (4, 6) or WILDCARD in parts[:2] or any(not p for p in parts):
        raise InvalidPolicyRecordError(f"malformed policy key {key!r}")
    scoped = [None if p == WILDCARD else p for p in parts[2:]] + [None, None]
    return PolicyKey(parts[0], parts[1], scoped[0], scoped[1], scoped[2], scoped[3])


@dataclass(frozen=True)
class PolicyRow:
    """One ``service_policies`` row with its config decoded (plaintext, validated, partial)."""

    id: str
    service_name: str
    policy_type: str
    org_id: str | None
    camera_id: str | None
    version: int
    config: Mapping[str, Any]
    updated_at_ms: int = 0
    site_id: str | None = None
    class_id: str | None = None

    @property
    def key(self) -> str:
        return policy_key(
            self.service_name,
            self.policy_type,
            self.org_id,
            self.camera_id,
            self.site_id,
            self.class_id,
        )

    @property
    def scope(self) -> Scope:
        if self.camera_id is not None:
            return "camera"
        if self.site_id is not None:
            return "site"
        if self.org_id is not None:
            return "org"
        return "global"

    def matches(
        self,
        org_id: str | None,
        camera_id: str | None,
        site_id: str | None = None,
        class_id: str | None = None,
    ) -> bool:
        """Whether this row applies to the given scope (its unset fields match anything)."""
        return all(
            mine is None or mine == asked
            for mine, asked in (
                (self.org_id, org_id),
                (self.camera_id, camera_id),
                (self.site_id, site_id),
                (self.class_id, class_id),
            )
        )

    def rank(self) -> tuple[bool, bool, bool, bool, int, int, str]:
        """Sort key: less specific first, so later rows override earlier ones."""
        return (
            self.camera_id is not None,
            self.site_id is not None,
            self.org_id is not None,
            self.class_id is not None,
            self.updated_at_ms,
            self.version,
            self.id,
        )


@dataclass(frozen=True)
class Provenance:
    """Where one effective value came from."""

    scope: Scope
    row_id: str | None = None
    version: int | None = None
    key: str | None = None


DEFAULT_PROVENANCE = Provenance("default")


@dataclass(frozen=True)
class EffectivePolicy:
    """The merged config of one policy_type for one scope, with per-field provenance."""

    policy_type: str
    values: Mapping[str, Any]
    provenance: Mapping[str, Provenance]
    rows: tuple[PolicyRow, ...] = field(default=())

    @property
    def version(self) -> int | None:
        """Version of the most specific row that contributed; None = defaults only."""
        return self.rows[-1].version if self.rows else None


def resolve_policy(
    rows: Iterable[PolicyRow],
    policy_type: str,
    *,
    org_id: str | None = None,
    camera_id: str | None = None,
    site_id: str | None = None,
    class_id: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> EffectivePolicy:
    """Merge the rows of ``policy_type`` that apply to the scope, most specific last."""
    applicable = sorted(
        (
            row
            for row in rows
            if row.policy_type == policy_type and row.matches(org_id, camera_id, site_id, class_id)
        ),
        key=PolicyRow.rank,
    )
    values: dict[str, Any] = dict(defaults or {})
    provenance: dict[str, Provenance] = dict.fromkeys(values, DEFAULT_PROVENANCE)
    contributing: list[PolicyRow] = []
    for row in applicable:
        if not row.config:
            continue
        source = Provenance(row.scope, row.id, row.version, row.key)
        for name, value in row.config.items():
            values[name] = value
            provenance[name] = source
        contributing.append(row)
    return EffectivePolicy(
        policy_type,
        MappingProxyType(values),
        MappingProxyType(provenance),
        tuple(contributing),
    )


# --- the rows held: version ordering and tombstones -------------------------------------------


class Outcome(enum.Enum):
    """What applying a change did to the book."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DELETED = "deleted"
    ABSENT = "absent"

    @property
    def changed(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.DELETED)


@dataclass(frozen=True)
class Tombstone:
    """The row a key held when it was deleted."""

    row_id: str
    version: int


def upsert_outcome(
    held: PolicyRow | None, tombstone: Tombstone | None, incoming: PolicyRow
) -> Outcome:
    """Whether ``incoming`` replaces ``held`` (pure decision, shared by the webhook)."""
    if (
        tombstone is not None
        and tombstone.row_id == incoming.id
        and incoming.version <= tombstone.version
    ):
        return Outcome.STALE
    if held is None:
        return Outcome.APPLIED
    if held.id == incoming.id:
        if incoming.version < held.version:
            return Outcome.STALE
        if incoming.version == held.version:
            if incoming.updated_at_ms > held.updated_at_ms and incoming.config != held.config:
                return Outcome.APPLIED
            return Outcome.DUPLICATE
        return Outcome.APPLIED
    if incoming.updated_at_ms < held.updated_at_ms:
        return Outcome.STALE
    return Outcome.APPLIED


def delete_outcome(held: PolicyRow | None, row_id: str | None, version: int | None) -> Outcome:
    """Whether deleting ``(row_id, version)`` removes ``held``; None for unknown id/version."""
    if held is None:
        return Outcome.ABSENT
    if row_id is not None and row_id != held.id:
        return Outcome.STALE  # the key now holds another row; deleting would remove it
    if version is not None and version < held.version:
        return Outcome.STALE
    return Outcome.DELETED


class PolicyBook:
    """Every policy row held, by policy key."""

    def __init__(self) -> None:
        self._rows: dict[str, PolicyRow] = {}
        self._tombstones: dict[str, Tombstone] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[PolicyRow]:
        return iter(list(self._rows.values()))

    def get(self, key: str) -> PolicyRow | None:
        return self._rows.get(key)

    def tombstone(self, key: str) -> Tombstone | None:
        return self._tombstones.get(key)

    def rows_for(self, service_name: str, policy_type: str | None = None) -> list[PolicyRow]:
        """The held rows of one service (and policy_type)."""
        return [
            row
            for row in self._rows.values()
            if row.service_name == service_name
            and (policy_type is None or row.policy_type == policy_type)
        ]

    def upsert(self, row: PolicyRow) -> Outcome:
        """Apply a row read from the topic (or accepted by the webhook)."""
        key = row.key
        outcome = upsert_outcome(self._rows.get(key), self._tombstones.get(key), row)
        if outcome is Outcome.APPLIED:
            self._rows[key] = row
            self._tombstones.pop(key, None)
        return outcome

    def delete(self, key: str, row_id: str | None = None, version: int | None = None) -> Outcome:
        """Apply a tombstone; a topic tombstone knows no id/version and always deletes."""
        held = self._rows.get(key)
        outcome = delete_outcome(held, row_id, version)
        if outcome is Outcome.DELETED and held is not None:
            del self._rows[key]
            self._tombstones[key] = Tombstone(held.id, held.version)
        return outcome
