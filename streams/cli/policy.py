"""``camguard policy``: operate service policies.

    camguard policy set TYPE '{"blur_strength": 0.9}' [--org O] [--camera C] [--merge]
    camguard policy get TYPE [--org O] [--camera C] [--effective]
    camguard policy delete TYPE [--org O] [--camera C]
    camguard policy sync [--dry-run]      republish the table (heals missed webhooks)
    camguard policy keygen KEYID          a fresh item for CAMGUARD_POLICY_KEY

``set`` and ``delete`` change the table (CAMGUARD_PG_DSN, else CAMGUARD_SUPABASE_URL/KEY) and
publish the change to service.policies with its audit record straight away, so a plain
PostgreSQL without the Supabase webhook works too (the webhook's copy is then a duplicate).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from streams.codec import AvroCodec
from streams.kafka_security import KafkaSecurityError, aiokafka_kwargs, check_broker
from streams.policy.crypto import PolicyCipher, generate_key_setting
from streams.policy.exceptions import PolicyError
from streams.policy.manager import PolicyManager
from streams.policy.models import validate_config
from streams.policy.resolve import Outcome
from streams.policy.storage import (
    PolicyRowStore,
    PolicyScope,
    PostgresPolicyRowStore,
    SupabasePolicyRowStore,
)
from streams.policy.topic import (
    KafkaPolicySink,
    KafkaPolicySource,
    PolicyPublisher,
    read_policy_topic,
)
from streams.policy.webhook import AuditEntry, ChangePlan, EventType, plan_sync
from streams.settings import Settings


def row_store(settings: Settings) -> PolicyRowStore:
    """Postgres when a DSN is set, else Supabase's REST API."""
    if settings.pg_dsn is not None:
        return PostgresPolicyRowStore(settings.pg_dsn.get_secret_value())
    if settings.supabase_url and settings.supabase_key is not None:
        return SupabasePolicyRowStore(
            settings.supabase_url, settings.supabase_key.get_secret_value()
        )
    raise PolicyError("set CAMGUARD_PG_DSN, or CAMGUARD_SUPABASE_URL and CAMGUARD_SUPABASE_KEY")


def _scope(settings: Settings, args: argparse.Namespace) -> PolicyScope:
    return PolicyScope(
        args.service or settings.service_name,
        args.policy_type,
        args.org,
        args.camera,
        args.site,
        getattr(args, "class_id", None),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _policy_sink(settings: Settings) -> KafkaPolicySink:
    return KafkaPolicySink(settings.bootstrap_servers, security=aiokafka_kwargs(settings))


def _publisher(sink: KafkaPolicySink, settings: Settings) -> PolicyPublisher:
    return PolicyPublisher(sink, AvroCodec(), PolicyCipher.from_settings(settings))


async def cmd_set(settings: Settings, args: argparse.Namespace) -> int:
    scope = _scope(settings, args)
    config = validate_config(scope.policy_type, json.loads(args.config))
    store = row_store(settings)
    old = await store.get(scope)
    row = await store.set(scope, config, merge=args.merge)
    operation: EventType = "INSERT" if old is None else "UPDATE"
    plan = ChangePlan(
        Outcome.APPLIED, ((row.key, row),), (AuditEntry(row.key, operation, old, row),)
    )
    async with _policy_sink(settings) as sink:
        await _publisher(sink, settings).publish_plan(plan, _actor(), _now_ms())
    print(
        json.dumps(
            {"key": row.key, "id": row.id, "version": row.version, "config": dict(row.config)}
        )
    )
    return 0


async def cmd_delete(settings: Settings, args: argparse.Namespace) -> int:
    scope = _scope(settings, args)
    key = scope.key
    old = await row_store(settings).delete(scope)
    plan = ChangePlan(Outcome.DELETED, ((key, None),), (AuditEntry(key, "DELETE", old, None),))
    async with _policy_sink(settings) as sink:
        await _publisher(sink, settings).publish_plan(plan, _actor(), _now_ms())
    print(json.dumps({"key": key, "deleted": old is not None}))
    return 0


async def cmd_get(settings: Settings, args: argparse.Namespace) -> int:
    scope = _scope(settings, args)
    if not args.effective:
        row = await row_store(settings).get(scope)
        out: dict[str, Any] = {
            "key": scope.key,
            "row": None,
        }
        if row is not None:
            out["row"] = {"id": row.id, "version": row.version, "config": dict(row.config)}
        print(json.dumps(out))
        return 0
    manager = PolicyManager.from_settings(
        settings.model_copy(update={"service_name": scope.service_name}),
        source=KafkaPolicySource(
            settings.bootstrap_servers, follow=False, security=aiokafka_kwargs(settings)
        ),
    )
    await manager.start_hot_reload()
    await manager.stop_hot_reload()
    effective = manager.effective(
        scope.policy_type,
        org_id=scope.org_id,
        camera_id=scope.camera_id,
        site_id=scope.site_id,
        class_id=scope.class_id,
    )
    print(
        json.dumps(
            {
                "values": dict(effective.values),
                "provenance": {k: v.__dict__ for k, v in effective.provenance.items()},
                "version": effective.version,
            }
        )
    )
    return 0


async def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    rows, invalid = await row_store(settings).list_rows()
    topic = await read_policy_topic(settings.bootstrap_servers, security=aiokafka_kwargs(settings))
    cipher = PolicyCipher.from_settings(settings)
    result = plan_sync(rows, invalid, topic, AvroCodec(), cipher)
    if not args.dry_run:
        async with _policy_sink(settings) as sink:
            await _publisher(sink, settings).publish_plan(result.plan, "sync", _now_ms())
    for bad in result.invalid:
        print(f"invalid row {bad.row_id} not published: {bad.error}", file=sys.stderr)
    print(
        json.dumps(
            {
                "republished": result.republished,
                "changed": result.changed,
                "deleted": result.deleted,
                "invalid": len(result.invalid),
                "dry_run": bool(args.dry_run),
            }
        )
    )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    print(generate_key_setting(args.key_id))
    return 0


Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]
COMMANDS: dict[str, Command] = {
    "set": cmd_set,
    "get": cmd_get,
    "delete": cmd_delete,
    "sync": cmd_sync,
}


async def _checked(command: Command, settings: Settings, args: argparse.Namespace) -> int:
    """``command`` after a TLS / SASL check (a wrong password fails fast, with its cause)."""
    await check_broker(settings)
    return await command(settings, args)


def run(args: argparse.Namespace) -> int:
    """Entry of ``camguard policy ...`` (set as the subparser's ``func``)."""
    if args.action == "keygen":
        return cmd_keygen(args)
    settings = Settings()
    if args.bootstrap:
        settings = settings.model_copy(update={"broker": args.bootstrap})
    try:
        return asyncio.run(_checked(COMMANDS[args.action], settings, args))
    except (PolicyError, KafkaSecurityError, json.JSONDecodeError) as exc:
        print(f"camguard policy {args.action}: {exc}", file=sys.stderr)
        return 2


def _scope_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy_type", help="privacy, antitheft, resilience, health, ...")
    parser.add_argument("--org", default=None, help="org_id (omit for global)")
    parser.add_argument("--camera", default=None, help="camera_id")
    parser.add_argument("--site", default=None, help="site_id")
    parser.add_argument("--class", dest="class_id", default=None, help="class_id")
    parser.add_argument("--service", default=None, help="service_name (default: settings)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``policy`` to the ``camguard`` subparsers (one line in streams/cli/__init__.py)."""
    policy: argparse.ArgumentParser = sub.add_parser(
        "policy", help="operate service policies (set/get/delete/sync)"
    )
    policy.add_argument("--bootstrap", default=None, help="Kafka host:port (default: settings)")
    actions = policy.add_subparsers(dest="action", required=True)
    set_ = actions.add_parser("set", help="create or replace a policy row and publish it")
    _scope_args(set_)
    set_.add_argument("config", help="JSON object with the fields to set")
    set_.add_argument("--merge", action="store_true", help="merge into the existing config")
    get = actions.add_parser("get", help="show a row, or --effective from the topic")
    _scope_args(get)
    get.add_argument("--effective", action="store_true")
    delete = actions.add_parser("delete", help="delete a policy row and publish a tombstone")
    _scope_args(delete)
    sync = actions.add_parser("sync", help="republish every row; tombstone rows gone")
    sync.add_argument("--dry-run", action="store_true")
    keygen = actions.add_parser("keygen", help="print a new keyid:base64key")
    keygen.add_argument("key_id")
    policy.set_defaults(func=run)
    return policy
