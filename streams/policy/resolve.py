"""Hierarchical policy resolution (pure).

Rows of ``service_policies`` form layers; the most specific layer wins, field by field:

    settings defaults < global (no scope) < org < org + site < camera (org + camera)

``class_id`` narrows a row further (it only applies when the caller asks for that class) and
ranks below the scopes above. Every effective value carries its provenance: the row id and
version (or ``default``) it came from. Ties between equally specific rows go to the newest
``updated_at``, then the higher version, then the row id, so every worker resolves alike.

Policy key on ``service.policies``: ``{service}/{policy_type}/{org_id or *}/{camera_id or *}``;
a row with a site_id or class_id appends ``/{site_id or *}/{class_id or *}`` so such rows do not
overwrite the plain one under compaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
