"""service_policies in PostgreSQL through asyncpg (also a Supabase database reached by DSN).

``org_id`` and ``class_id`` are uuid columns (the platform's schema) while camguard keeps ids as
text: uuids travel as text both ways, and the scope is matched on the columns' text, so a scope
whose org id is not a uuid matches no row (and inserting one is refused by the database).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from streams.policy.exceptions import PolicyError
from streams.policy.resolve import PolicyRow
from streams.policy.store import COLUMNS, PolicyScope, split_rows
from streams.policy.sync import InvalidRow

_SCOPE_WHERE = (
    "service_name = $1 and policy_type = $2 and org_id::text is not distinct from $3::text "
    "and camera_id is not distinct from $4 and site_id is not distinct from $5 "
    "and class_id::text is not distinct from $6::text"
)

# Built once from constants (column list and scope predicate), never from input.
_SELECT_ALL = f"select {COLUMNS} from public.service_policies"  # noqa: S608
_SELECT_SCOPE = f"{_SELECT_ALL} where {_SCOPE_WHERE}"
_LOCK_SCOPE = f"select id, config from public.service_policies where {_SCOPE_WHERE} for update"  # noqa: S608
_INSERT = (
    "insert into public.service_policies (service_name, policy_type, org_id, camera_id, "  # noqa: S608
    "site_id, class_id, config) values ($1, $2, $3, $4, $5, $6, $7::jsonb) returning " + COLUMNS
)
_UPDATE = (
    "update public.service_policies set config = $2::jsonb, version = version + 1, "  # noqa: S608
    "updated_at = now() where id = $1 returning " + COLUMNS
)
_DELETE = f"delete from public.service_policies where {_SCOPE_WHERE} returning {COLUMNS}"  # noqa: S608


class PolicyStoreError(PolicyError):
    """The database refused the change (for example an org_id missing from orgs)."""

    reason = "store_error"
    status = 400


def _one(record: Any) -> PolicyRow:
    valid, invalid = split_rows([dict(record)])
    if invalid:
        raise PolicyStoreError(invalid[0].error)
    return valid[0]


class PostgresPolicyRowStore:
    """A :class:`~streams.policy.store.PolicyRowStore` over one connection per call."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def _connect(self) -> Any:
        conn = await asyncpg.connect(self.dsn)
        await conn.set_type_codec(
            "uuid", schema="pg_catalog", encoder=str, decoder=str, format="text"
        )
        return conn

    async def list_rows(self) -> tuple[list[PolicyRow], list[InvalidRow]]:
        conn = await self._connect()
        try:
            records = await conn.fetch(_SELECT_ALL)
        finally:
            await conn.close()
        return split_rows([dict(r) for r in records])

    async def get(self, scope: PolicyScope) -> PolicyRow | None:
        conn = await self._connect()
        try:
            record = await conn.fetchrow(_SELECT_SCOPE, *scope.columns())
        finally:
            await conn.close()
        return None if record is None else _one(record)

    async def set(self, scope: PolicyScope, config: Mapping[str, Any], merge: bool) -> PolicyRow:
        conn = await self._connect()
        try:
            async with conn.transaction():
                held = await conn.fetchrow(_LOCK_SCOPE, *scope.columns())
                if held is None:
                    columns = scope.columns()
                    record = await conn.fetchrow(_INSERT, *columns, json.dumps(dict(config)))
                else:
                    base = json.loads(held["config"]) if merge else {}
                    merged = json.dumps({**base, **dict(config)})
                    record = await conn.fetchrow(_UPDATE, held["id"], merged)
        except asyncpg.PostgresError as exc:
            raise PolicyStoreError(f"database refused the change: {exc}") from exc
        finally:
            await conn.close()
        return _one(record)

    async def delete(self, scope: PolicyScope) -> PolicyRow | None:
        conn = await self._connect()
        try:
            record = await conn.fetchrow(_DELETE, *scope.columns())
        finally:
            await conn.close()
        if record is None:
            return None
        valid, _ = split_rows([dict(record)])
        return valid[0] if valid else None
