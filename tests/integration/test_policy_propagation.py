"""Policies through the real broker and two real worker processes, without restarts.

A webhook POST changes one camera's privacy policy; both workers apply it (polled through their
GET /policies); a malformed record produced straight to the topic is dead-lettered while the last
known good stays; a DELETE restores the organisation's value; the audit topic holds every change.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from streams.app import DEADLETTER, POLICIES, POLICIES_AUDIT
from streams.codec import AvroCodec
from streams.devstack import free_port
from streams.policy.topic import read_topic
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.support.policy import WorkerProcess, signed_headers, supabase_row, webhook_body

pytestmark = [pytest.mark.integration, pytest.mark.faust_edge, pytest.mark.timeout(300)]

SECRET = b"integration-secret"
CODEC = AvroCodec()


@pytest.fixture(scope="module")
def workers(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[WorkerProcess]]:
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    base = tmp_path_factory.mktemp("policy-workers")
    env = {
        "CAMGUARD_WEBHOOK_SECRET": SECRET.decode(),
        "CAMGUARD_APP_ID": f"policy-it-{uuid.uuid4().hex[:6]}",
        # a fresh consumer group would otherwise anonymize every frame earlier tests left on
        # camera.frames first: on 2 cores that starves the policy consumer past the deadline
        "CAMGUARD_CONSUMER_AUTO_OFFSET_RESET": "latest",
    }
    procs = [WorkerProcess(kafka_bootstrap, free_port(), base / f"w{i}", env) for i in (1, 2)]
    for i, proc in enumerate(procs, 1):
        proc.start(base / f"w{i}.log")
    try:
        with httpx.Client() as client:
            for proc in procs:
                proc.wait_ready(client, deadline_s=150)
        yield procs
    finally:
        for proc in procs:
            proc.stop()
        for i in (1, 2):
            log = (base / f"w{i}.log").read_text(errors="replace")
            print(f"--- worker {i} log tail ---\n{log[-3000:]}")


def post(client: httpx.Client, worker: WorkerProcess, body: bytes) -> httpx.Response:
    return client.post(
        f"{worker.url}/webhooks/supabase", content=body, headers=signed_headers(SECRET, body)
    )


def wait_all(
    client: httpx.Client,
    workers: list[WorkerProcess],
    scope: dict[str, str],
    check: Callable[[dict[str, Any]], bool],
    deadline_s: float = 30.0,
) -> list[dict[str, Any]]:
    """Poll every worker's GET /policies until ``check`` holds on each; return the documents."""
    end = time.monotonic() + deadline_s
    docs: list[dict[str, Any] | None] = [None] * len(workers)
    while time.monotonic() < end:
        docs = [w.policies(client, **scope) for w in workers]
        if all(d is not None and check(d) for d in docs):
            return [d for d in docs if d is not None]
        time.sleep(0.05)
    raise AssertionError(f"workers did not converge: {docs}")


def privacy(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["policies"]["privacy"])


def source(doc: dict[str, Any], field: str) -> dict[str, Any]:
    return dict(doc["provenance"]["privacy"][field])


def read_keys(bootstrap: str, topic: str, keys: set[str]) -> list[bytes]:
    """Values of ``keys`` on ``topic`` up to its current end, in order per key."""
    messages = asyncio.run(read_topic(bootstrap, topic))
    return [value for key, value in messages if key in keys and value is not None]


async def produce(bootstrap: str, topic: str, key: bytes, value: bytes | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def test_webhook_change_reaches_both_workers_and_delete_restores_org(
    workers: list[WorkerProcess], kafka_bootstrap: str
) -> None:
    org, camera = f"org-{uuid.uuid4().hex[:8]}", f"cam-{uuid.uuid4().hex[:8]}"
    scope = {"org_id": org, "camera_id": camera}
    cam_key = f"camguard/privacy/{org}/{camera}"
    w1, w2 = workers
    pids = [w.process.pid for w in workers if w.process is not None]
    org_row = supabase_row(org_id=org, config={"blur_strength": 0.6, "blur_mode": "pixelate"})
    cam_v1 = supabase_row(
        org_id=org, camera_id=camera, config={"blur_strength": 0.2, "face_blur_enabled": False}
    )
    cam_v2 = {**cam_v1, "version": 2, "config": {"blur_strength": 0.3, "face_blur_enabled": False}}

    with httpx.Client() as client:
        assert post(client, w1, webhook_body("INSERT", org_row)).status_code == 200
        wait_all(client, workers, scope, lambda d: privacy(d)["blur_strength"] == 0.6)

        response = post(client, w2, webhook_body("INSERT", cam_v1))
        assert response.json() == {"status": "applied", "keys": [cam_key], "version": 1}
        docs = wait_all(client, workers, scope, lambda d: privacy(d)["blur_strength"] == 0.2)
        for doc in docs:
            assert privacy(doc)["face_blur_enabled"] is False
            assert privacy(doc)["blur_mode"] == "pixelate"
            assert source(doc, "blur_strength") == {
                "scope": "camera",
                "row_id": cam_v1["id"],
                "version": 1,
                "key": cam_key,
            }
            assert source(doc, "blur_mode")["scope"] == "org"

        assert post(client, w1, webhook_body("UPDATE", cam_v2, cam_v1)).status_code == 200
        wait_all(client, workers, scope, lambda d: privacy(d)["blur_strength"] == 0.3)

        # A replay of the older version is refused and changes nothing.
        stale = post(client, w2, webhook_body("UPDATE", cam_v1, cam_v1))
        assert stale.status_code == 409

        # A malformed record produced straight to the topic: dead-lettered, last good kept.
        bad = {**cam_v2, "version": 3}
        record = {
            "id": bad["id"],
            "service_name": "camguard",
            "policy_type": "privacy",
            "org_id": org,
            "camera_id": camera,
            "version": 3,
            "config": '{"blur_strength": "max"}',
            "updated_at": int(time.time() * 1000),
        }
        asyncio.run(
            produce(
                kafka_bootstrap, POLICIES, cam_key.encode(), CODEC.encode("PolicyRecord", record)
            )
        )
        end = time.monotonic() + 30
        letters: list[dict[str, Any]] = []
        while not letters and time.monotonic() < end:
            raw = read_keys(kafka_bootstrap, DEADLETTER, {cam_key})
            letters = [CODEC.decode_as("DeadLetter", v) for v in raw]
        assert letters, "malformed policy record was not dead-lettered"
        assert letters[0]["reason"] == "invalid_policy"
        assert letters[0]["consumer"] == "policies"
        for doc in wait_all(client, workers, scope, lambda d: True):
            assert privacy(doc)["blur_strength"] == 0.3

        gone = post(client, w2, webhook_body("DELETE", None, cam_v2))
        assert gone.json()["status"] == "deleted"
        docs = wait_all(client, workers, scope, lambda d: privacy(d)["blur_strength"] == 0.6)
        for doc in docs:
            assert privacy(doc)["face_blur_enabled"] is True
            assert source(doc, "blur_strength")["row_id"] == org_row["id"]

    assert [w.process.pid for w in workers if w.process is not None] == pids
    assert all(w.process is not None and w.process.poll() is None for w in workers)

    audit = read_keys(kafka_bootstrap, POLICIES_AUDIT, {cam_key, f"camguard/privacy/{org}/*"})
    changes = [CODEC.decode_as("PolicyChange", v) for v in audit]
    trail: dict[str, list[tuple[str, int | None, str]]] = {}
    for c in changes:  # ordered per key: one key lives on one partition
        trail.setdefault(c["key"], []).append(
            (c["operation"], c["new"] and c["new"]["version"], c["actor"])
        )
    assert trail == {
        f"camguard/privacy/{org}/*": [("INSERT", 1, "webhook")],
        cam_key: [("INSERT", 1, "webhook"), ("UPDATE", 2, "webhook"), ("DELETE", None, "webhook")],
    }
    cam_changes = [c for c in changes if c["key"] == cam_key]
    assert [c["old"] and c["old"]["version"] for c in cam_changes] == [None, 1, 2]


def test_bad_requests_are_refused_and_produce_nothing(workers: list[WorkerProcess]) -> None:
    w1 = workers[0]
    good = webhook_body("INSERT", supabase_row(org_id="acme", config={"blur_strength": 0.5}))
    url = f"{w1.url}/webhooks/supabase"
    with httpx.Client() as client:
        before = w1.policies(client)
        assert before is not None
        cases = [
            (client.post(url, content=good), 401),
            (client.post(url, content=good, headers={"X-Camguard-Webhook-Secret": "nope"}), 401),
            (client.post(url, content=good, headers=signed_headers(b"other", good)), 401),
            (
                client.post(
                    url, content=good, headers=signed_headers(SECRET, good, time.time() - 3600)
                ),
                401,
            ),
            (post(client, w1, b"{not json"), 400),
            (
                post(client, w1, webhook_body("INSERT", supabase_row(config={"blur_strength": 5}))),
                422,
            ),
            (post(client, w1, good.replace(b"service_policies", b"cameras")), 422),
            (post(client, w1, b" " * (256 * 1024 + 1)), 413),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert response.json()["detail"]
        headers = signed_headers(SECRET, good)
        assert client.post(url, content=good, headers=headers).status_code == 200
        assert client.post(url, content=good, headers=headers).status_code == 409
        after = w1.policies(client)
        assert after is not None
        assert after["revision"] == before["revision"] + 1
