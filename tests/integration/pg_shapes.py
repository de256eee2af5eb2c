"""Databases in the shapes camguard's migrations meet, made in the session's real PostgreSQL.

- ``empty``: nothing but PostgreSQL.
- ``supabase``: what a Supabase project holds before camguard: ``public.orgs(id uuid)`` and
  ``public.cameras`` made by the platform (its own columns, row level security, no
  ``updated_at``), plus Supabase's API roles (``anon``, ``authenticated``, ``service_role``) and
  its default privileges, which grant every new table and function to all three.
- ``supabase_policies``: the same with the platform's own ``service_policies`` as the
  specification writes it (a plain UNIQUE key, under which NULL scopes never collide).
- ``legacy``: what the first camguard 0001 made (text org ids, which hold uuids).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from streams.devstack import MIGRATIONS_DIR

SHAPES = ("empty", "supabase", "supabase_policies", "legacy")

SUPABASE_ROLES = """
do $roles$
declare
    name text;
begin
    foreach name in array array['anon', 'authenticated', 'service_role'] loop
        if not exists (select 1 from pg_roles where rolname = name) then
            begin
                execute format('create role %I nologin', name);
            exception when duplicate_object then
                null;  -- made meanwhile by another test session on the same cluster
            end;
        end if;
    end loop;
    alter role service_role bypassrls;
end;
$roles$;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
    grant all on functions to anon, authenticated, service_role;
"""

SUPABASE_TABLES = """
create extension if not exists pgcrypto;
create table public.orgs (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    plan text not null default 'free',
    created_at timestamptz not null default now()
);
create table public.cameras (
    id text primary key,
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    rtsp_url text,
    online boolean default false,
    last_seen timestamptz,
    metadata jsonb default '{}'::jsonb,
    created_at timestamptz not null default now()
);
alter table public.cameras enable row level security;
create policy cameras_read on public.cameras for select to authenticated using (true);
"""

SUPABASE_POLICIES = """
create table public.service_policies (
    id uuid primary key default gen_random_uuid(),
    org_id uuid references public.orgs (id),
    camera_id text,
    class_id uuid,
    site_id text,
    service_name text not null,
    policy_type text not null,
    config jsonb not null,
    version integer not null default 1,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (org_id, camera_id, class_id, site_id, policy_type)
);
"""

# The first infra/supabase/migrations/0001_init.sql, as deployments may have applied it.
LEGACY_0001 = """
create extension if not exists pgcrypto;
create table if not exists public.orgs (
    id text primary key,
    name text not null default '',
    created_at timestamptz not null default now()
);
create table if not exists public.cameras (
    id text primary key,
    org_id text references public.orgs (id) on delete set null,
    name text,
    online boolean not null default false,
    last_seen timestamptz,
    metadata jsonb not null default '{}'::jsonb,
    updated_at timestamptz not null default now()
);
create index if not exists cameras_org_id_idx on public.cameras (org_id);
create table if not exists public.service_policies (
    id uuid primary key default gen_random_uuid(),
    org_id text references public.orgs (id) on delete cascade,
    camera_id text,
    class_id text,
    site_id text,
    service_name text not null,
    policy_type text not null,
    config jsonb not null default '{}'::jsonb,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, camera_id, class_id, site_id, policy_type)
);
create index if not exists service_policies_lookup_idx
    on public.service_policies (service_name, policy_type, org_id, camera_id);
"""

PREPARE = {
    "empty": "",
    "supabase": SUPABASE_ROLES + SUPABASE_TABLES,
    "supabase_policies": SUPABASE_ROLES + SUPABASE_TABLES + SUPABASE_POLICIES,
    "legacy": LEGACY_0001,
}


async def apply_migrations(conn: asyncpg.Connection, upto: str | None = None) -> None:
    """Run infra/supabase/migrations in name order (those named up to ``upto`` only)."""
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if upto is None or path.name <= upto:
            await conn.execute(path.read_text())


@contextlib.asynccontextmanager
async def scratch_database(postgres_dsn: str, shape: str = "empty") -> AsyncIterator[str]:
    """The DSN of a fresh database of ``shape`` in the session's cluster, dropped afterwards."""
    name = f"cg_{shape}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'create database "{name}"')
        dsn = postgres_dsn.rsplit("/", 1)[0] + f"/{name}"
        if PREPARE[shape]:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(PREPARE[shape])
            finally:
                await conn.close()
        try:
            yield dsn
        finally:
            await admin.execute(f'drop database "{name}" with (force)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def migrated_database(postgres_dsn: str, shape: str) -> AsyncIterator[str]:
    """:func:`scratch_database` with the migrations applied."""
    async with scratch_database(postgres_dsn, shape) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        yield dsn
