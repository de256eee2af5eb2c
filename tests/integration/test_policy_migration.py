"""The migrations on real PostgreSQL: the specification's schema on every database shape
(empty, Supabase-like, Supabase-like with the platform's own service_policies, and what the
first 0001 made: see tests/integration/pg_shapes.py), version bumps, and the guarded Supabase
webhook trigger.

Supabase's ``supabase_functions.http_request`` is replaced by a stand-in that builds the same
payload (``old_record``, ``record``, ``type``, ``table``, ``schema``) and writes it to an outbox
instead of calling pg_net; the payloads are then fed to the webhook's own checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from streams.policy.resolve import PolicyBook
from streams.policy.webhook import WebhookVerifier, parse_body, plan_change
from tests.integration.pg_shapes import SHAPES, apply_migrations, scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ACME = "5f0c6d2e-7a51-4c1e-9b0e-2d3f4a5b6c7d"

SUPABASE_STANDIN = """
create schema supabase_functions;
create table supabase_functions.outbox (
    id bigserial primary key, url text, method text, headers jsonb, payload jsonb
);
create function supabase_functions.http_request() returns trigger language plpgsql as $$
declare
    payload jsonb := jsonb_build_object(
        'old_record', OLD, 'record', NEW, 'type', TG_OP,
        'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA);
begin
    insert into supabase_functions.outbox (url, method, headers, payload)
    values (TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]::jsonb, payload);
    return new;
end $$;
"""


@pytest.fixture
async def scratch_db(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database in the session's cluster, dropped afterwards."""
    async with scratch_database(postgres_dsn) as dsn:
        yield dsn


SPEC_TYPES = {
    "orgs.id": "uuid",
    "cameras.id": "text",
    "cameras.org_id": "uuid",
    "cameras.online": "boolean",
    "cameras.last_seen": "timestamp with time zone",
    "cameras.metadata": "jsonb",
    "service_policies.id": "uuid",
    "service_policies.org_id": "uuid",
    "service_policies.camera_id": "text",
    "service_policies.class_id": "uuid",
    "service_policies.site_id": "text",
    "service_policies.service_name": "text",
    "service_policies.policy_type": "text",
    "service_policies.config": "jsonb",
    "service_policies.version": "integer",
    "service_policies.created_at": "timestamp with time zone",
    "service_policies.updated_at": "timestamp with time zone",
}


async def column_types(conn: asyncpg.Connection) -> dict[str, str]:
    found = await conn.fetch(
        "select table_name || '.' || column_name as col, data_type "
        "from information_schema.columns where table_schema = 'public' "
        "and table_name in ('orgs', 'cameras', 'service_policies')"
    )
    return {r["col"]: r["data_type"] for r in found}


async def seed_before_camguard(conn: asyncpg.Connection, shape: str, org: str) -> set[str]:
    """Rows the database held before the migrations; the (org_id, camera_id) pairs to find."""
    if shape == "empty":
        return set()
    await conn.execute("insert into public.orgs (id, name) values ($1, 'Acme')", org)
    await conn.execute(
        "insert into public.cameras (id, org_id, name) values ('cam-1', $1, 'Gate')", org
    )
    if shape == "supabase":
        return {"cameras cam-1"}
    await conn.execute(
        "insert into public.service_policies (org_id, camera_id, service_name, policy_type, "
        "config) values ($1, 'cam-1', 'camguard', 'privacy', '{}')",
        org,
    )
    return {"cameras cam-1", "service_policies cam-1"}


@pytest.mark.parametrize("shape", SHAPES)
async def test_every_database_shape_ends_in_the_specification_schema(
    shape: str, postgres_dsn: str
) -> None:
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    insert = (
        "insert into public.service_policies (org_id, camera_id, class_id, service_name, "
        "policy_type, config) values ($1, $2, $3, 'camguard', 'health', '{}')"
    )
    async with scratch_database(postgres_dsn, shape) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            expected = await seed_before_camguard(conn, shape, org)
            await apply_migrations(conn)
            await apply_migrations(conn)  # repeatable
            types = await column_types(conn)
            kept = await conn.fetch(
                "select 'cameras ' || id as what, org_id::text from public.cameras union all "
                "select 'service_policies ' || camera_id, org_id::text from public.service_policies"
            )
            fk = await conn.fetchval(
                "select pg_get_constraintdef(oid) from pg_constraint where contype = 'f' "
                "and conrelid = 'public.service_policies'::regclass"
            )
            await conn.execute("insert into public.orgs (id, name) values ($1, 'New')", other)
            await conn.execute(insert, None, None, None)
            await conn.execute(insert, other, "cam-1", str(uuid.uuid4()))
            with pytest.raises(asyncpg.UniqueViolationError):  # NULLs collide: one global row
                await conn.execute(insert, None, None, None)
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await conn.execute(insert, str(uuid.uuid4()), None, None)
            with pytest.raises(asyncpg.InvalidTextRepresentationError):
                await conn.execute("insert into public.orgs (id, name) values ('acme', 'A')")
            has_function = await conn.fetchval(
                "select to_regprocedure('public.camguard_publish_health(jsonb)') is not null"
            )
        finally:
            await conn.close()
    assert {k: types.get(k) for k in SPEC_TYPES} == SPEC_TYPES
    assert fk is not None
    assert fk.startswith("FOREIGN KEY (org_id) REFERENCES orgs(id)")
    assert {r["what"] for r in kept} == expected, "rows from before the migrations are kept"
    assert {r["org_id"] for r in kept} <= {org}
    assert has_function


async def test_legacy_org_ids_that_are_not_uuids_stop_the_migration_unchanged(
    postgres_dsn: str,
) -> None:
    async with scratch_database(postgres_dsn, "legacy") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("insert into public.orgs (id) values ('acme'), ($1)", ACME)
            with pytest.raises(asyncpg.RaiseError) as refused:
                await apply_migrations(conn)
            types = await column_types(conn)
        finally:
            await conn.close()
    assert "orgs.id holds values that are not uuids: 'acme'" in str(refused.value)
    assert "uuid ids" in (refused.value.hint or "")
    assert types["orgs.id"] == "text", "nothing was converted"


async def test_plain_postgres_gets_version_bumps_but_no_webhook(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        triggers = {
            r["tgname"]
            for r in await conn.fetch(
                "select tgname from pg_trigger where tgrelid = 'public.service_policies'::regclass"
            )
        }
        org = str(uuid.uuid4())
        await conn.execute("insert into public.orgs (id) values ($1)", org)
        row = await conn.fetchrow(
            "insert into public.service_policies (org_id, service_name, policy_type, config) "
            "values ($1, 'camguard', 'privacy', '{}') returning id, version",
            org,
        )
        bumped = await conn.fetchval(
            "update public.service_policies set config = '{\"blur_strength\": 1}' "
            "where id = $1 returning version",
            row["id"],
        )
        await conn.execute("delete from public.orgs where id = $1", org)
    finally:
        await conn.close()
    assert "camguard_policy_bump_version" in triggers
    assert "camguard_policies_webhook" not in triggers
    assert (row["version"], bumped) == (1, 2)


async def test_supabase_webhook_trigger_sends_what_the_webhook_accepts(scratch_db: str) -> None:
    secret = "migration-test-secret"
    url = "http://127.0.0.1:6066/webhooks/supabase"
    conn = await asyncpg.connect(scratch_db)
    try:
        await conn.execute(SUPABASE_STANDIN)
        await conn.execute("select set_config('camguard.webhook_url', $1, false)", url)
        await conn.execute("select set_config('camguard.webhook_secret', $1, false)", secret)
        await apply_migrations(conn)
        await apply_migrations(conn)  # repeatable
        await conn.execute("insert into public.orgs (id) values ($1)", ACME)
        row_id = await conn.fetchval(
            "insert into public.service_policies (org_id, camera_id, service_name, policy_type, "
            "config) values ($1, 'cam-1', 'camguard', 'privacy', '{\"blur_strength\": 0.2}') "
            "returning id",
            ACME,
        )
        await conn.execute(
            "update public.service_policies set config = '{\"blur_strength\": 0.9}' where id = $1",
            row_id,
        )
        await conn.execute("delete from public.service_policies where id = $1", row_id)
        outbox = await conn.fetch(
            "select url, method, headers, payload from supabase_functions.outbox order by id"
        )
    finally:
        await conn.close()

    assert [(r["url"], r["method"]) for r in outbox] == [(url, "POST")] * 3
    verifier = WebhookVerifier(secret.encode())
    book = PolicyBook()
    seen = []
    for sent in outbox:
        headers = json.loads(sent["headers"])
        body = sent["payload"].encode()
        assert verifier.authenticate(headers, body, now_s=0.0) == "shared_secret"
        event = parse_body(body)
        plan = plan_change(event, book)
        for key, produced in plan.records:
            if produced is None:
                book.delete(key)
            else:
                book.upsert(produced)
        changed = event.record or event.old_record
        assert changed is not None
        seen.append((event.type, changed.version, dict(changed.config), plan.outcome.value))
    assert seen == [
        ("INSERT", 1, {"blur_strength": 0.2}, "applied"),
        ("UPDATE", 2, {"blur_strength": 0.9}, "applied"),
        ("DELETE", 2, {"blur_strength": 0.9}, "deleted"),
    ]
    assert len(book) == 0
