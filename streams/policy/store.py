"""The ``service_policies`` table behind one interface: PostgreSQL (asyncpg) or Supabase.

Rows come back as :class:`PolicyRow` (valid) or :class:`InvalidRow` (config no longer fits its
model). ``set`` replaces (or merges into) the config of the row with that exact scope and bumps
its version; ``delete`` removes it. Supabase goes through its REST API (PostgREST) with httpx.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from streams.policy.exceptions import PolicyError
from streams.policy.payload import row_from_supabase
from streams.policy.resolve import PolicyRow, policy_key
from streams.policy.sync import InvalidRow

COLUMNS = (
    "id, org_id, camera_id, class_id, site_id, service_name, policy_type, config, version, "
    "created_at, updated_at"
)


@dataclass(frozen=True)
class PolicyScope:
    """The exact scope of one row (None = not scoped by that column)."""

    service_name: str
    policy_type: str
    org_id: str | None = None
    camera_id: str | None = None
    site_id: str | None = None
    class_id: str | None = None

    def columns(self) -> tuple[str, str, str | None, str | None, str | None, str | None]:
        """The scope's columns in the order of ``policy_key`` and the row stores' queries."""
        return (
            self.service_name,
            self.policy_type,
            self.org_id,
            self.camera_id,
            self.site_id,
            self.class_id,
        )

    @property
    def key(self) -> str:
        """The row's compacted-topic key."""
        return policy_key(*self.columns())


class PolicyRowStore(Protocol):
    """Where service_policies rows live."""

    async def list_rows(self) -> tuple[list[PolicyRow], list[InvalidRow]]: ...
    async def get(self, scope: PolicyScope) -> PolicyRow | None: ...
    async def set(
        self, scope: PolicyScope, config: Mapping[str, Any], merge: bool
    ) -> PolicyRow: ...
    async def delete(self, scope: PolicyScope) -> PolicyRow | None: ...


def jsonable_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A database row as the JSON a webhook carries (uuid/datetime as text, config parsed)."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, datetime):
            out[name] = value.isoformat()
        elif name == "config" and isinstance(value, str):
            out[name] = json.loads(value)
        elif name == "id":
            out[name] = str(value)
        else:
            out[name] = value
    return out


def split_rows(records: Sequence[Mapping[str, Any]]) -> tuple[list[PolicyRow], list[InvalidRow]]:
    """Valid rows and invalid ones (with the reason) from raw table rows."""
    valid: list[PolicyRow] = []
    invalid: list[InvalidRow] = []
    for record in records:
        data = jsonable_row(record)
        try:
            valid.append(row_from_supabase(data, strict=True))
        except PolicyError as exc:
            key = None
            try:
                key = row_from_supabase(data, strict=False).key
            except PolicyError:
                key = None
            invalid.append(InvalidRow(str(data.get("id")), f"{exc.reason}: {exc}", key))
    return valid, invalid


@dataclass
class MemoryPolicyRowStore:
    """An in-memory table for unit tests."""

    rows: dict[PolicyScope, PolicyRow]

    async def list_rows(self) -> tuple[list[PolicyRow], list[InvalidRow]]:
        return list(self.rows.values()), []

    async def get(self, scope: PolicyScope) -> PolicyRow | None:
        return self.rows.get(scope)

    async def set(self, scope: PolicyScope, config: Mapping[str, Any], merge: bool) -> PolicyRow:
        held = self.rows.get(scope)
        merged = {**(dict(held.config) if held and merge else {}), **config}
        row = PolicyRow(
            id=held.id if held else f"mem-{len(self.rows) + 1}",
            service_name=scope.service_name,
            policy_type=scope.policy_type,
            org_id=scope.org_id,
            camera_id=scope.camera_id,
            version=held.version + 1 if held else 1,
            config=merged,
            updated_at_ms=(held.updated_at_ms + 1) if held else 1,
            site_id=scope.site_id,
            class_id=scope.class_id,
        )
        self.rows[scope] = row
        return row

    async def delete(self, scope: PolicyScope) -> PolicyRow | None:
        return self.rows.pop(scope, None)
