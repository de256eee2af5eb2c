-- camguard policies: versioned rows and the Supabase database webhook to POST /webhooks/supabase.
-- Applies unchanged (and repeatably) on a hosted Supabase project and on plain PostgreSQL.

-- 1. Every UPDATE of a policy row bumps its version and updated_at, so consumers can order
--    changes and ignore replays by (id, version) whoever edits the row (dashboard, SQL, CLI).
create or replace function public.camguard_policy_bump_version()
returns trigger
language plpgsql
as $$
begin
    if new.version is null or new.version <= old.version then
        new.version := old.version + 1;
    end if;
    new.updated_at := now();
    return new;
end;
$$;

drop trigger if exists camguard_policy_bump_version on public.service_policies;
create trigger camguard_policy_bump_version
    before update on public.service_policies
    for each row execute function public.camguard_policy_bump_version();

-- 2. The database webhook (what Supabase's dashboard creates under Database > Webhooks): an
--    AFTER trigger calling supabase_functions.http_request with the shared-secret header.
--    Guarded: on plain PostgreSQL (no supabase_functions schema) it is skipped, and run
--    `camguard policy sync` (or `camguard policy set`) to publish instead.
--    The URL and secret are never committed; give them before applying this file, either as
--    settings of the session or database:
--        set camguard.webhook_url = 'https://worker.example.com/webhooks/supabase';
--        set camguard.webhook_secret = '<same value as CAMGUARD_WEBHOOK_SECRET>';
--    or as Supabase Vault secrets named camguard_webhook_url and camguard_webhook_secret.
do $webhook$
declare
    hook_url    text := nullif(current_setting('camguard.webhook_url', true), '');
    hook_secret text := nullif(current_setting('camguard.webhook_secret', true), '');
begin
    if not exists (select 1 from pg_namespace where nspname = 'supabase_functions') then
        raise notice 'camguard: no supabase_functions schema (plain PostgreSQL): policy webhook '
                     'not installed; publish with `camguard policy sync`';
        return;
    end if;
    if (hook_url is null or hook_secret is null)
       and exists (select 1 from pg_namespace where nspname = 'vault') then
        execute $q$select max(decrypted_secret) filter (where name = 'camguard_webhook_url'),
                          max(decrypted_secret) filter (where name = 'camguard_webhook_secret')
                   from vault.decrypted_secrets$q$
            into hook_url, hook_secret;
    end if;
    if hook_url is null or hook_secret is null then
        raise notice 'camguard: camguard.webhook_url / camguard.webhook_secret not given: policy '
                     'webhook not installed (see the comment in 0002_policy_webhook.sql)';
        return;
    end if;
    execute 'drop trigger if exists camguard_policies_webhook on public.service_policies';
    execute format(
        'create trigger camguard_policies_webhook '
        'after insert or update or delete on public.service_policies '
        'for each row execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
        hook_url,
        'POST',
        json_build_object(
            'Content-Type', 'application/json',
            'X-Camguard-Webhook-Secret', hook_secret
        )::text,
        '{}',
        '5000'
    );
end;
$webhook$;
