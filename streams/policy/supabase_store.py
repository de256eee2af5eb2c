"""service_policies on a hosted Supabase project, through its REST API (PostgREST) with httpx.

Uses the service-role key (CAMGUARD_SUPABASE_KEY): policies are operator data, not user data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from streams.policy.exceptions import PolicyError
from streams.policy.resolve import PolicyRow
from streams.policy.store import COLUMNS, PolicyScope, split_rows
from streams.policy.sync import InvalidRow

PAGE = 1000


class SupabaseStoreError(PolicyError):
    """Supabase answered with an error; check CAMGUARD_SUPABASE_URL and the service-role key."""

    reason = "store_error"
    status = 502
    retriable = True


def scope_filters(scope: PolicyScope) -> dict[str, str]:
    """PostgREST filters selecting exactly ``scope`` (``is.null`` for unscoped columns)."""
    columns = {
        "service_name": scope.service_name,
        "policy_type": scope.policy_type,
        "org_id": scope.org_id,
        "camera_id": scope.camera_id,
        "site_id": scope.site_id,
        "class_id": scope.class_id,
    }
    return {name: "is.null" if v is None else f"eq.{v}" for name, v in columns.items()}


class SupabasePolicyRowStore:
    """A :class:`~streams.policy.store.PolicyRowStore` over Supabase's REST API."""

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
                body = {
                    "service_name": scope.service_name,
                    "policy_type": scope.policy_type,
                    "org_id": scope.org_id,
                    "camera_id": scope.camera_id,
                    "site_id": scope.site_id,
                    "class_id": scope.class_id,
                    "config": dict(config),
                }
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
