"""Migration 0002 on real PostgreSQL: version bumps, and the guarded Supabase webhook trigger.

Supabase's ``supabase_functions.http_request`` is replaced by a stand-in that builds the same
payload (``old_record``, ``record``, ``type``, ``table``, ``schema``) and writes it to an outbox
instead of calling pg_net; the payloads are then fed to the webhook's own checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from streams.devstack import MIGRATIONS_DIR
from streams.policy.book import PolicyBook
from streams.policy.payload import plan_change
from streams.policy.webhook import WebhookVerifier, parse_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

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


async def apply_migrations(conn: Any) -> None:
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        await conn.execute(path.read_text())


@pytest.fixture
async def scratch_db(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh database in the session's cluster, dropped afterwards."""
    name = f"cg_policy_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'create database "{name}"')
    dsn = postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield dsn
    finally:
        await admin.execute(f'drop database "{name}" with (force)')
        await admin.close()


async def test_plain_postgres_gets_version_bumps_but_no_webhook(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        triggers = {
            r["tgname"]
            for r in await conn.fetch(
                "select tgname from pg_trigger where tgrelid = 'public.service_policies'::regclass"
            )
        }
        org = f"org-{uuid.uuid4().hex[:8]}"
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
        await conn.execute("insert into public.orgs (id) values ('acme')")
        row_id = await conn.fetchval(
            "insert into public.service_policies (org_id, camera_id, service_name, policy_type, "
            "config) values ('acme', 'cam-1', 'camguard', 'privacy', '{\"blur_strength\": 0.2}') "
            "returning id"
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
