"""The Supabase health store: the supabase-py async client, one PostgREST upsert per batch.

The request is ``POST {url}/rest/v1/cameras?on_conflict=id`` with
``Prefer: return=minimal,resolution=merge-duplicates`` and the ``apikey`` / ``Authorization``
headers (supabase-py builds it). ``org_id`` is not written: the platform owns camera
membership, and an unknown organisation would fail the foreign key for the whole batch.

Which failures are worth a retry is decided from the answer: no answer, HTTP 408/429/5xx,
PostgREST's connection errors (``PGRST000``-``PGRST003``) and the transient SQLSTATE classes
(08 connection, 53 resources, 57 operator intervention, 40001/40P01) are retriable; anything
else means the rows were refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import httpx
from postgrest import APIError
from postgrest.types import ReturnMethod
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from streams.resilience.health import HealthSnapshot
from streams.store.base import camera_row, latest_per_camera
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError

TABLE = "cameras"
_RETRIABLE_HTTP = {"408", "429"}
_RETRIABLE_POSTGREST = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}
_RETRIABLE_SQLSTATE_CLASSES = ("08", "53", "57")
_RETRIABLE_SQLSTATES = {"40001", "40P01"}


def is_retriable_code(code: str | None) -> bool:
    """Whether a PostgREST error ``code`` (HTTP status, PGRST code or SQLSTATE) is transient."""
    if not code:
        return True  # an answer without a code came from a proxy, not from the database
    if code in _RETRIABLE_HTTP or code in _RETRIABLE_POSTGREST or code in _RETRIABLE_SQLSTATES:
        return True
    if code.isdigit() and len(code) == 3:
        return code.startswith("5")
    return len(code) == 5 and code[:2] in _RETRIABLE_SQLSTATE_CLASSES


class SupabaseHealthStore:
    """Upserts health rows into a Supabase project's ``cameras`` table."""

    def __init__(self, url: str, key: str, *, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._key = key
        self._timeout = timeout_s
        self._client: AsyncClient | None = None

    async def upsert_cameras(self, snapshots: Sequence[HealthSnapshot]) -> None:
        rows: list[dict[str, Any]] = [camera_row(s).to_json() for s in latest_per_camera(snapshots)]
        if not rows:
            return
        client = await self._get_client()
        query = client.table(TABLE).upsert(
            rows,
            on_conflict="id",
            returning=ReturnMethod.minimal,
        )
        try:
            await query.execute()
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"supabase unreachable: {exc!r}") from exc
        except APIError as exc:
            detail = f"supabase answered {exc.code}: {exc.message}"
            if is_retriable_code(exc.code):
                raise StoreUnavailableError(detail) from exc
            raise StoreRejectedError(detail) from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.postgrest.aclose()

    async def _get_client(self) -> AsyncClient:
        if self._client is None:
            options = AsyncClientOptions(
                postgrest_client_timeout=self._timeout, auto_refresh_token=False
            )
            client = await acreate_client(self._url, self._key, options=options)
            with warnings.catch_warnings():
                # supabase-py hands postgrest-py timeout/verify arguments postgrest-py deprecates.
                warnings.filterwarnings(
                    "ignore", r"The '\w+' parameter is deprecated", DeprecationWarning
                )
                client.postgrest  # noqa: B018 - builds the PostgREST client now
            self._client = client
        return self._client
