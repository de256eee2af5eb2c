"""The Supabase row store speaks PostgREST: checked with httpx.MockTransport, no network."""

from __future__ import annotations

import json

import httpx
import pytest

from streams.policy.storage import (
    PolicyScope,
    SupabasePolicyRowStore,
    SupabaseStoreError,
    scope_filters,
)
from tests.support.policy import supabase_row

SCOPE = PolicyScope("camguard", "privacy", "acme", "cam-1")


def test_scope_filters_match_nulls_exactly() -> None:
    filters = scope_filters(PolicyScope("camguard", "privacy", "acme"))
    assert filters["org_id"] == "eq.acme"
    assert filters["camera_id"] == "is.null"


async def test_set_updates_the_existing_row_with_a_version_bump() -> None:
    row = supabase_row(org_id="acme", camera_id="cam-1", config={"blur_strength": 0.2}, version=4)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.path == "/rest/v1/service_policies"
        assert request.headers["apikey"] == "service-key"
        if request.method == "GET":
            return httpx.Response(200, json=[row])
        body = json.loads(request.content)
        return httpx.Response(200, json=[{**row, **body}])

    store = SupabasePolicyRowStore(
        "https://p.supabase.co", "service-key", httpx.MockTransport(handler)
    )
    result = await store.set(SCOPE, {"blur_mode": "solid"}, merge=True)
    assert result.version == 5
    assert dict(result.config) == {"blur_strength": 0.2, "blur_mode": "solid"}
    patch = seen[-1]
    assert patch.method == "PATCH"
    assert patch.url.params["id"] == f"eq.{row['id']}"
    assert patch.headers["prefer"] == "return=representation"


async def test_list_rows_pages_and_separates_invalid_rows() -> None:
    good = supabase_row(org_id="acme", config={"blur_strength": 0.2})
    bad = supabase_row(org_id="acme", camera_id="c", config={"blur_strength": 3})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[good, bad] if request.url.params["offset"] == "0" else [])

    store = SupabasePolicyRowStore("https://p.supabase.co/", "k", httpx.MockTransport(handler))
    valid, invalid = await store.list_rows()
    assert [r.id for r in valid] == [good["id"]]
    assert invalid[0].row_id == bad["id"]
    assert "blur_strength" in invalid[0].error
    assert invalid[0].key == "camguard/privacy/acme/c"


async def test_errors_are_reported_as_store_errors() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(401, text="bad key"))
    store = SupabasePolicyRowStore("https://p.supabase.co", "k", transport)
    with pytest.raises(SupabaseStoreError, match="401") as info:
        await store.get(SCOPE)
    assert info.value.status == 502
