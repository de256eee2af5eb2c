-- camguard base schema: organisations, cameras (health is published here) and service policies,
-- in the shape of the platform specification (orgs.id uuid, camera ids text).
-- Applies unchanged on a hosted Supabase project and on plain PostgreSQL 15+ (NULLS NOT
-- DISTINCT), on an empty database as well as on one where the platform already created
-- public.orgs and public.cameras: every statement is "if not exists", so tables that exist are
-- left as they are. 0003_supabase_exact.sql brings databases made by the first version of this
-- file (text org ids) to the same shape.

create extension if not exists pgcrypto;  -- gen_random_uuid() before PostgreSQL 13 / on Supabase

create table if not exists public.orgs (
    id          uuid primary key default gen_random_uuid(),
    name        text not null default '',
    created_at  timestamptz not null default now()
);

create table if not exists public.cameras (
    id          text primary key,
    org_id      uuid references public.orgs (id) on delete set null,
    name        text,
    online      boolean not null default false,
    last_seen   timestamptz,
    metadata    jsonb not null default '{}'::jsonb,
    updated_at  timestamptz not null default now()
);

create index if not exists cameras_org_id_idx on public.cameras (org_id);

-- One row per scope: a NULL column means "not scoped by it", so NULLs must collide in the
-- unique key (NULLS NOT DISTINCT), or two global rows of one policy type could coexist.
create table if not exists public.service_policies (
    id            uuid primary key default gen_random_uuid(),
    org_id        uuid references public.orgs (id) on delete cascade,
    camera_id     text,
    class_id      uuid,
    site_id       text,
    service_name  text not null,
    policy_type   text not null,
    config        jsonb not null default '{}'::jsonb,
    version       integer not null default 1,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint service_policies_scope_key
        unique nulls not distinct (org_id, camera_id, class_id, site_id, policy_type)
);

create index if not exists service_policies_lookup_idx
    on public.service_policies (service_name, policy_type, org_id, camera_id);
