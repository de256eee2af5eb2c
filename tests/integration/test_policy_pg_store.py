"""The Postgres policy row store on the specification's schema (uuid org and class ids)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from streams.policy.storage import PolicyScope, PolicyStoreError, PostgresPolicyRowStore
from tests.integration.pg_shapes import migrated_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.mark.parametrize("shape", ["empty", "supabase"])
async def test_uuid_scopes_round_trip_as_text_and_other_ids_match_nothing(
    shape: str, postgres_dsn: str
) -> None:
    org, klass = str(uuid.uuid4()), str(uuid.uuid4())
    async with migrated_database(postgres_dsn, shape) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("insert into public.orgs (id, name) values ($1, 'Acme')", org)
        finally:
            await conn.close()
        store = PostgresPolicyRowStore(dsn)
        scope = PolicyScope("camguard", "privacy", org_id=org, camera_id="cam-1", class_id=klass)
        made = await store.set(scope, {"blur_strength": 0.4}, merge=False)
        merged = await store.set(scope, {"blur_mode": "solid"}, merge=True)
        listed, invalid = await store.list_rows()
        other = PolicyScope("camguard", "privacy", org_id="acme", camera_id="cam-1")
        missing = await store.get(other)
        with pytest.raises(PolicyStoreError, match="uuid"):
            await store.set(other, {"blur_strength": 0.4}, merge=False)
        gone = await store.delete(scope)
    assert (made.org_id, made.class_id, made.version) == (org, klass, 1)
    assert merged.config == {"blur_strength": 0.4, "blur_mode": "solid"}
    assert [(r.org_id, r.class_id, r.version) for r in listed] == [(org, klass, 2)]
    assert invalid == []
    assert missing is None
    assert gone is not None
    assert gone.key == f"camguard/privacy/{org}/cam-1/*/{klass}"
