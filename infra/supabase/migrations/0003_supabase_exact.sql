-- camguard: the platform specification's exact shape, and how health reaches public.cameras.
-- Applies (repeatably) on a hosted Supabase project and on plain PostgreSQL 15+, after 0001 and
-- 0002, whichever way the tables came to be:
--   * made by 0001 as it is now, or by the platform's own Supabase project: sections 1-3
--     find nothing to change;
--   * made by the first version of 0001 (orgs.id, cameras.org_id, service_policies.org_id and
--     class_id as text, a UNIQUE key under which NULLs never collide): they are converted.
-- Editing 0001 alone would not reach a database that applied it already, hence this file.

-- 1. Organisations are keyed by uuid. Text org ids that hold uuids are converted together with
--    every column that references them (the foreign keys are dropped and made again); any
--    other value stops the migration with the rows to fix, and nothing is changed.
do $convert$
declare
    uuid_re constant text :=
        '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
    fk_tables regclass[] := '{}';
    fk_names name[] := '{}';
    fk_defs text[] := '{}';
    col_tables regclass[] := '{}';
    col_names name[] := '{}';
    fk record;
    bad text;
    i integer;
begin
    if (select format_type(atttypid, null) from pg_attribute
        where attrelid = 'public.orgs'::regclass and attname = 'id' and not attisdropped)
       in ('text', 'character varying') then
        col_tables := array['public.orgs'::regclass];
        col_names := array['id'::name];
        for fk in
            select c.conrelid::regclass as tbl, c.conname, pg_get_constraintdef(c.oid) as def,
                   a.attname
            from pg_constraint c
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
            where c.confrelid = 'public.orgs'::regclass and c.contype = 'f'
        loop
            fk_tables := fk_tables || fk.tbl;
            fk_names := fk_names || fk.conname;
            fk_defs := fk_defs || fk.def;
            col_tables := col_tables || fk.tbl;
            col_names := col_names || fk.attname;
        end loop;
    end if;
    -- service_policies' own uuid columns, whoever made them text
    for fk in
        select a.attname from pg_attribute a
        where a.attrelid = 'public.service_policies'::regclass and not a.attisdropped
          and a.attname in ('org_id', 'class_id')
          and format_type(a.atttypid, null) in ('text', 'character varying')
    loop
        if not exists (select 1 from unnest(col_tables, col_names) as t(tbl, col)
                       where t.tbl = 'public.service_policies'::regclass and t.col = fk.attname)
        then
            col_tables := col_tables || 'public.service_policies'::regclass;
            col_names := col_names || fk.attname;
        end if;
    end loop;
    if cardinality(col_names) = 0 then
        return;
    end if;

    for i in 1 .. cardinality(col_names) loop
        execute format(
            'select string_agg(quote_literal(v), '', '') from '
            '(select distinct %1$I::text as v from %2$s where %1$I !~ %3$L limit 5) s',
            col_names[i], col_tables[i], uuid_re)
            into bad;
        if bad is not null then
            raise exception 'camguard 0003: %.% holds values that are not uuids: %',
                col_tables[i], col_names[i], bad
                using hint = 'The platform keys organisations (and policy classes) by uuid. '
                    'Give those rows uuid ids (and the rows that reference them the same ids), '
                    'or delete them, then apply the migrations again.';
        end if;
    end loop;

    for i in 1 .. cardinality(fk_names) loop
        execute format('alter table %s drop constraint %I', fk_tables[i], fk_names[i]);
    end loop;
    for i in 1 .. cardinality(col_names) loop
        execute format('alter table %1$s alter column %2$I type uuid using %2$I::uuid',
                       col_tables[i], col_names[i]);
        raise notice 'camguard 0003: %.% converted to uuid', col_tables[i], col_names[i];
    end loop;
    if 'public.orgs'::regclass = any (col_tables) then
        alter table public.orgs alter column id set default gen_random_uuid();
    end if;
    for i in 1 .. cardinality(fk_names) loop
        execute format('alter table %s add constraint %I %s', fk_tables[i], fk_names[i], fk_defs[i]);
    end loop;
end;
$convert$;

-- 2. One policy row per scope, NULL meaning "not scoped by that column": the UNIQUE key treats
--    NULLs as equal (NULLS NOT DISTINCT, PostgreSQL 15+; Supabase runs 15+). A plain UNIQUE key
--    over the same columns is replaced; rows that the new key would refuse stop the migration.
do $scope_key$
declare
    scope_columns constant name[] :=
        array['camera_id', 'class_id', 'org_id', 'policy_type', 'site_id']::name[];
    con record;
    dup text;
begin
    if exists (
        select 1 from pg_constraint c join pg_index i on i.indexrelid = c.conindid
        where c.conrelid = 'public.service_policies'::regclass and c.contype = 'u'
          and i.indnullsnotdistinct
          and (select array_agg(a.attname order by a.attname) from pg_attribute a
               where a.attrelid = c.conrelid and a.attnum = any (c.conkey)) = scope_columns
    ) then
        return;
    end if;
    select string_agg(format('(org_id=%s camera_id=%s class_id=%s site_id=%s policy_type=%s: %s rows)',
                             org_id, camera_id, class_id, site_id, policy_type, n), ', ')
    into dup
    from (select org_id, camera_id, class_id, site_id, policy_type, count(*) as n
          from public.service_policies
          group by 1, 2, 3, 4, 5 having count(*) > 1 limit 5) d;
    if dup is not null then
        raise exception 'camguard 0003: service_policies has several rows for one scope: %', dup
            using hint = 'Keep one row per scope (the newest version), delete the others, then '
                'apply the migrations again.';
    end if;
    for con in
        select c.conname from pg_constraint c
        where c.conrelid = 'public.service_policies'::regclass and c.contype = 'u'
          and (select array_agg(a.attname order by a.attname) from pg_attribute a
               where a.attrelid = c.conrelid and a.attnum = any (c.conkey)) = scope_columns
    loop
        execute format('alter table public.service_policies drop constraint %I', con.conname);
    end loop;
    alter table public.service_policies add constraint service_policies_scope_key
        unique nulls not distinct (org_id, camera_id, class_id, site_id, policy_type);
end;
$scope_key$;

-- 3. The columns health is written to, on a cameras table the platform made without them.
alter table public.cameras
    add column if not exists online boolean not null default false,
    add column if not exists last_seen timestamptz,
    add column if not exists metadata jsonb not null default '{}'::jsonb;

-- 4. Health into public.cameras, the same from Supabase (PostgREST rpc) and from Postgres:
--        select public.camguard_publish_health('[{"id": "cam-1", "online": true,
--            "last_seen": "...", "observed_at": "...", "metadata": {"frames_processed": 7}}]');
--    Only cameras that exist are updated (the platform registers cameras; no row is invented).
--    metadata is merged (keys the platform keeps there survive) and stamped with observed_at;
--    a snapshot older than the stamp changes nothing, so a late retry or a worker that lost
--    its partitions cannot overwrite newer health. The UPDATE re-checks the stamp on a row
--    another transaction changed meanwhile, so concurrent writers keep the guard too.
--    Returns {"updated": [ids], "stale": [ids], "unknown": [ids]}.
create or replace function public.camguard_publish_health(snapshots jsonb)
returns jsonb
language sql
volatile
set search_path = ''
as $fn$
    with given as (
        select distinct on (s.id)
               s.id,
               coalesce(s.online, false) as online,
               s.last_seen,
               coalesce(s.observed_at, now()) as observed_at,
               case when jsonb_typeof(s.metadata) = 'object' then s.metadata
                    else '{}'::jsonb end as metadata
        from jsonb_to_recordset(
                 case when jsonb_typeof(snapshots) = 'array' then snapshots else '[]'::jsonb end
             ) as s(id text, online boolean, last_seen timestamptz, observed_at timestamptz,
                    metadata jsonb)
        where s.id is not null
        order by s.id, s.observed_at desc nulls last
    ),
    written as (
        update public.cameras as c
        set online = g.online,
            last_seen = greatest(c.last_seen, g.last_seen),
            metadata = case when jsonb_typeof(c.metadata) = 'object' then c.metadata
                            else '{}'::jsonb end
                       || g.metadata
                       || jsonb_build_object('observed_at', g.observed_at)
        from given as g
        where c.id::text = g.id
          and coalesce((c.metadata ->> 'observed_at')::timestamptz, '-infinity') <= g.observed_at
        returning c.id::text as id
    )
    select jsonb_build_object(
        'updated', coalesce((select jsonb_agg(w.id order by w.id) from written as w), '[]'),
        'stale', coalesce((
            select jsonb_agg(g.id order by g.id) from given as g
            where exists (select 1 from public.cameras as c where c.id::text = g.id)
              and not exists (select 1 from written as w where w.id = g.id)), '[]'),
        'unknown', coalesce((
            select jsonb_agg(g.id order by g.id) from given as g
            where not exists (select 1 from public.cameras as c where c.id::text = g.id)), '[]')
    );
$fn$;

-- Health is written by camguard with the service-role key (Supabase) or the DSN's role
-- (Postgres, usually the owner): not by the public API roles that Supabase grants every new
-- function to. On plain PostgreSQL with a role that does not own the function, grant it:
--     grant execute on function public.camguard_publish_health(jsonb) to <role>;
revoke all on function public.camguard_publish_health(jsonb) from public;
do $grants$
begin
    if exists (select 1 from pg_roles where rolname = 'anon') then
        revoke all on function public.camguard_publish_health(jsonb) from anon;
    end if;
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        revoke all on function public.camguard_publish_health(jsonb) from authenticated;
    end if;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant execute on function public.camguard_publish_health(jsonb) to service_role;
    end if;
end;
$grants$;
