-- camguard base schema: organisations, cameras (health is published here) and service policies.
-- Applies unchanged on a hosted Supabase project and on plain PostgreSQL 13+.

create extension if not exists pgcrypto;  -- gen_random_uuid() before PostgreSQL 13 / on Supabase

create table if not exists public.orgs (
    id          text primary key,
    name        text not null default '',
    created_at  timestamptz not null default now()
);

create table if not exists public.cameras (
    id          text primary key,
    org_id      text references public.orgs (id) on delete set null,
    name        text,
    online      boolean not null default false,
    last_seen   timestamptz,
    metadata    jsonb not null default '{}'::jsonb,
    updated_at  timestamptz not null default now()
);

create index if not exists cameras_org_id_idx on public.cameras (org_id);

create table if not exists public.service_policies (
    id            uuid primary key default gen_random_uuid(),
    org_id        text references public.orgs (id) on delete cascade,
    camera_id     text,
    class_id      text,
    site_id       text,
    service_name  text not null,
    policy_type   text not null,
    config        jsonb not null default '{}'::jsonb,
    version       integer not null default 1,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    unique (org_id, camera_id, class_id, site_id, policy_type)
);

create index if not exists service_policies_lookup_idx
    on public.service_policies (service_name, policy_type, org_id, camera_id);
