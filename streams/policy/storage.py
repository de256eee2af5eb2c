"""The ``service_policies`` table behind one interface: PostgreSQL (asyncpg) or Supabase.

Rows come back as :class:`PolicyRow` (valid) or :class:`~streams.policy.webhook.InvalidRow`
(config no longer fits its model). ``set`` replaces (or merges into) the config of the row with
that exact scope and bumps its version; ``delete`` removes it.

:class:`PostgresPolicyRowStore` reaches PostgreSQL through asyncpg (also a Supabase database
reached by DSN). ``org_id`` and ``class_id`` are uuid columns (the platform's schema) while
camguard keeps ids as text: uuids travel as text both ways, and the scope is matched on the
columns' text, so a scope whose org id is not a uuid matches no row (and inserting one is
refused by the database).

:class:`SupabasePolicyRowStore` reaches a hosted Supabase project through its REST API
(PostgREST) with httpx. It uses the service-role key (CAMGUARD_SUPABASE_KEY): policies are
operator data, not user data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import httpx

from streams.policy.exceptions import PolicyError
from streams.policy.resolve import PolicyRow, policy_key
from streams.policy.webhook import InvalidRow, row_from_supabase

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

    def named(self) -> dict[str, str | None]:
        """The scope's columns by their names in ``service_policies``."""
        names = ("service_name", "policy_type", "org_id", "camera_id", "site_id", "class_id")
        return dict(zip(names, self.columns(), strict=True))

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


# --- PostgreSQL through asyncpg ---------------------------------------------------------------

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
    """A :class:`PolicyRowStore` over one connection per call."""

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

    async def _fetchrow(self, query: str, *args: Any) -> Any:
        """One row of ``query`` on a connection of its own."""
        conn = await self._connect()
        try:
            return await conn.fetchrow(query, *args)
        finally:
            await conn.close()

    async def get(self, scope: PolicyScope) -> PolicyRow | None:
        record = await self._fetchrow(_SELECT_SCOPE, *scope.columns())
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
        record = await self._fetchrow(_DELETE, *scope.columns())
        if record is None:
            return None
        valid, _ = split_rows([dict(record)])
        return valid[0] if valid else None


# --- Supabase through its REST API (PostgREST) with httpx -------------------------------------

PAGE = 1000


class SupabaseStoreError(PolicyError):
    """Supabase answered with an error; check CAMGUARD_SUPABASE_URL and the service-role key."""

    reason = "store_error"
    status = 502
    retriable = True


def scope_filters(scope: PolicyScope) -> dict[str, str]:
    """PostgREST filters selecting exactly ``scope`` (``is.null`` for unscoped columns)."""
    return {name: "is.null" if v is None else f"eq.{v}" for name, v in scope.named().items()}


class SupabasePolicyRowStore:
    """A :class:`PolicyRowStore` over Supabase's REST API."""

    def __init__(
        self, url: str, key: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base = url.rstrip("/") + "/rest/v1/service_policies"
        self.headers = {"apikey": key, "Authorization": f"Bearer {key}"}
        self.transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers=self.headers, transport=self.transport, timeout=10.0)

    @staticmethod
    def _rows(response: httpx.Response) -> list[dict[str, Any]]:
        if response.status_code >= 400:
            raise SupabaseStoreError(f"Supabase {response.status_code}: {response.text[:300]}")
        data = response.json()
        return data if isinstance(data, list) else []

    async def list_rows(self) -> tuple[list[PolicyRow], list[InvalidRow]]:
        records: list[dict[str, Any]] = []
        async with self._client() as client:
            while True:
                params = {
                    "select": COLUMNS.replace(" ", ""),
                    "order": "id",
                    "limit": str(PAGE),
                    "offset": str(len(records)),
                }
                page = self._rows(await client.get(self.base, params=params))
                records.extend(page)
                if len(page) < PAGE:
                    break
        return split_rows(records)

    async def get(self, scope: PolicyScope) -> PolicyRow | None:
        async with self._client() as client:
            rows = self._rows(await client.get(self.base, params=scope_filters(scope)))
        valid, _ = split_rows(rows)
        return valid[0] if valid else None

    async def set(self, scope: PolicyScope, config: Mapping[str, Any], merge: bool) -> PolicyRow:
        prefer = {"Prefer": "return=representation"}
        async with self._client() as client:
            held = self._rows(await client.get(self.base, params=scope_filters(scope)))
            if not held:
                body = {**scope.named(), "config": dict(config)}
                rows = self._rows(await client.post(self.base, json=body, headers=prefer))
            else:
                current = held[0]
                base = dict(current.get("config") or {}) if merge else {}
                patch = {"config": {**base, **dict(config)}, "version": current["version"] + 1}
                rows = self._rows(
                    await client.patch(
                        self.base, params={"id": f"eq.{current['id']}"}, json=patch, headers=prefer
                    )
                )
        valid, invalid = split_rows(rows)
        if not valid:
            raise SupabaseStoreError(invalid[0].error if invalid else "no row returned")
        return valid[0]

    async def delete(self, scope: PolicyScope) -> PolicyRow | None:
        async with self._client() as client:
            rows = self._rows(
                await client.delete(
                    self.base,
                    params=scope_filters(scope),
                    headers={"Prefer": "return=representation"},
                )
            )
        valid, _ = split_rows(rows)
        return valid[0] if valid else None
