"""``camguard policy set|get|delete|sync`` against real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from streams.app import POLICIES, POLICIES_AUDIT
from streams.codec import AvroCodec
from streams.policy.avro import row_to_record
from streams.policy.resolve import PolicyRow
from streams.policy.topic import read_policy_topic, read_topic
from streams.settings import Settings
from streams.topics import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
CODEC = AvroCodec()


def camguard(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "policy", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def latest(bootstrap: str, topic: str = POLICIES) -> dict[str, bytes | None]:
    return asyncio.run(read_policy_topic(bootstrap, topic))


def decoded(value: bytes | None) -> dict[str, Any] | None:
    return None if value is None else CODEC.decode_as("PolicyRecord", value)


async def sql(dsn: str, statement: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def produce_orphan(bootstrap: str, row: PolicyRow) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        value = CODEC.encode("PolicyRecord", row_to_record(row, None))
        await producer.send_and_wait(POLICIES, key=row.key.encode(), value=value)
    finally:
        await producer.stop()


def audit_for(bootstrap: str, keys: set[str]) -> list[dict[str, Any]]:
    """Every PolicyChange of ``keys`` on the audit topic, in order per key."""
    messages = asyncio.run(read_topic(bootstrap, POLICIES_AUDIT))
    return [
        CODEC.decode_as("PolicyChange", value)
        for key, value in messages
        if key in keys and value is not None
    ]


def test_cli_set_get_delete_and_sync_republish_the_table(
    kafka_bootstrap: str, postgres_dsn: str
) -> None:
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    env = {
        **os.environ,
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_PG_DSN": postgres_dsn,
    }
    org, cam = str(uuid.uuid4()), f"cam-{uuid.uuid4().hex[:8]}"  # orgs.id is a uuid
    cam_key, org_key = f"camguard/privacy/{org}/{cam}", f"camguard/health/{org}/*"
    gone_key = f"camguard/privacy/{org}/cam-gone"
    asyncio.run(sql(postgres_dsn, "insert into public.orgs (id) values ($1)", org))

    made = camguard(env, "set", "privacy", '{"blur_strength": 0.4}', "--org", org, "--camera", cam)
    assert (made["key"], made["version"]) == (cam_key, 1)
    record = decoded(latest(kafka_bootstrap)[cam_key])
    assert record is not None
    assert (record["version"], json.loads(record["config"])) == (1, {"blur_strength": 0.4})
    merged = camguard(
        env, "set", "privacy", '{"blur_mode": "solid"}', "--org", org, "--camera", cam, "--merge"
    )
    assert merged["config"] == {"blur_strength": 0.4, "blur_mode": "solid"}
    assert merged["version"] == 2

    # Changes that never reached the topic (missed webhooks): an edit, a new row, and a row
    # the topic holds but the table no longer has.
    edit = (
        "update public.service_policies set config = $3::jsonb where org_id = $1 and camera_id = $2"
    )
    asyncio.run(sql(postgres_dsn, edit, org, cam, '{"blur_strength": 0.7}'))
    add = (
        "insert into public.service_policies (org_id, service_name, policy_type, config) "
        "values ($1, 'camguard', 'health', $2::jsonb)"
    )
    asyncio.run(sql(postgres_dsn, add, org, '{"offline_after_s": 15}'))
    orphan = PolicyRow(
        "orphan-1", "camguard", "privacy", org, "cam-gone", 1, {"blur_strength": 1.0}, 1
    )
    asyncio.run(produce_orphan(kafka_bootstrap, orphan))

    summary = camguard(env, "sync")
    assert summary["republished"] >= 2
    assert summary["deleted"] >= 1
    topic = latest(kafka_bootstrap)
    cam_record, org_record = decoded(topic[cam_key]), decoded(topic[org_key])
    assert cam_record is not None
    assert org_record is not None
    assert (cam_record["version"], json.loads(cam_record["config"])) == (3, {"blur_strength": 0.7})
    assert json.loads(org_record["config"]) == {"offline_after_s": 15.0}
    assert topic[gone_key] is None

    again = camguard(env, "sync")
    assert (again["changed"], again["deleted"]) == (0, 0)

    effective = camguard(env, "get", "privacy", "--org", org, "--camera", cam, "--effective")
    assert effective["values"]["blur_strength"] == 0.7
    assert effective["provenance"]["blur_strength"]["version"] == 3

    assert camguard(env, "delete", "privacy", "--org", org, "--camera", cam)["deleted"] is True
    assert latest(kafka_bootstrap)[cam_key] is None
    assert camguard(env, "get", "privacy", "--org", org, "--camera", cam)["row"] is None

    audit = audit_for(kafka_bootstrap, {cam_key, org_key, gone_key})
    trail: dict[str, list[tuple[str, str]]] = {}
    for change in audit:  # ordered per key (one partition per key)
        trail.setdefault(change["key"], []).append(
            (change["operation"], change["actor"].split(":")[0])
        )
    assert trail == {
        cam_key: [("INSERT", "cli"), ("UPDATE", "cli"), ("UPDATE", "sync"), ("DELETE", "cli")],
        org_key: [("INSERT", "sync")],
        gone_key: [("DELETE", "sync")],
    }
    asyncio.run(sql(postgres_dsn, "delete from public.orgs where id = $1", org))
