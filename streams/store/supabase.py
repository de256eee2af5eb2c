"""The Supabase health store: the supabase-py async client, one RPC per batch.

The request is ``POST {url}/rest/v1/rpc/camguard_publish_health`` with the body
``{"snapshots": [...]}`` and the ``apikey`` / ``Authorization`` headers (supabase-py builds it):
the SQL function of migration 0003, the same one the Postgres store calls, so both write
``cameras`` alike (UPDATE only, ``metadata`` merged, older snapshots ignored) and answer which
cameras were unknown. The service-role key is needed: the migration keeps the function from the
``anon`` and ``authenticated`` roles.

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
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from streams.resilience.health import HealthSnapshot
from streams.store.base import MISSING_FUNCTION, PUBLISH_FUNCTION, CameraUpdate, publish_argument
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError

_RETRIABLE_HTTP = {"408", "429"}
_RETRIABLE_POSTGREST = {"PGRST000", "PGRST001", "PGRST002", "PGRST003"}
_RETRIABLE_SQLSTATE_CLASSES = ("08", "53", "57")
_RETRIABLE_SQLSTATES = {"40001", "40P01"}
_MISSING_FUNCTION_CODES = {"PGRST202", "42883"}


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
    """Updates health rows of a Supabase project's ``cameras`` table through its RPC."""

    def __init__(self, url: str, key: str, *, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._key = key
        self._timeout = timeout_s
        self._client: AsyncClient | None = None
        self._owns_client = True

    @classmethod
    def from_client(cls, client: AsyncClient) -> SupabaseHealthStore:
        """A store over a client the caller made (and closes): ``close`` leaves it open."""
        store = cls(str(client.supabase_url), client.supabase_key)
        store._client = _with_postgrest(client)
        store._owns_client = False
        return store

    async def update_cameras(self, snapshots: Sequence[HealthSnapshot]) -> CameraUpdate:
        argument = publish_argument(snapshots)
        if not argument:
            return CameraUpdate()
        client = await self._get_client()
        # postgrest-py annotates rpc params as dict[str, str]; it sends any JSON body.
        params: dict[str, Any] = {"snapshots": argument}
        try:
            response = await client.rpc(PUBLISH_FUNCTION, params).execute()
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"supabase unreachable: {exc!r}") from exc
        except APIError as exc:
            detail = f"supabase answered {exc.code}: {exc.message}"
            if exc.code in _MISSING_FUNCTION_CODES:
                raise StoreRejectedError(f"{MISSING_FUNCTION} ({detail})") from exc
            if is_retriable_code(exc.code):
                raise StoreUnavailableError(detail) from exc
            raise StoreRejectedError(detail) from exc
        return CameraUpdate.from_json(response.data)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.postgrest.aclose()

    async def _get_client(self) -> AsyncClient:
        if self._client is None:
            options = AsyncClientOptions(
                postgrest_client_timeout=self._timeout, auto_refresh_token=False
            )
            self._client = _with_postgrest(
                await acreate_client(self._url, self._key, options=options)
            )
            self._owns_client = True
        return self._client


def _with_postgrest(client: AsyncClient) -> AsyncClient:
    """``client`` with its PostgREST client built (supabase-py builds it on first use)."""
    with warnings.catch_warnings():
        # supabase-py hands postgrest-py timeout/verify arguments postgrest-py deprecates.
        warnings.filterwarnings("ignore", r"The '\w+' parameter is deprecated", DeprecationWarning)
        client.postgrest  # noqa: B018 - builds the PostgREST client now
    return client
