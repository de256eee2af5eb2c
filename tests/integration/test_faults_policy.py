"""Fault: the policy topic is unreachable when a worker starts.

A broker of its own (infra/kafka/kafka.sh with ``--acls``: Kafka's StandardAuthorizer) with a
SASL_SSL listener for the worker's user and the PLAINTEXT listener for the test (a super user).
A camera-level privacy row turns face blur off for camera A, then an ACL denies the worker's
user every operation on ``service.policies``, and a fresh worker starts (nothing held locally:
its policy table is in memory and replayed from the topic at each start).

What camguard does, stated: with no policy it can read, the worker does not wait and does not
guess. It starts, serves frames with the fail-closed defaults (every face and plate blurred,
``policy_version`` null: what a worker applies before any policy row), says so on
``GET /policies`` and in its log, and keeps retrying. Once the ACL is removed, the row is read
and camera A's frames follow it (face untouched, version 1) without a restart.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest

from streams.codec import AvroCodec
from streams.devstack import KAFKA_SCRIPT, free_port
from streams.policy.resolve import PolicyRow
from streams.policy.topic import KafkaPolicySink, PolicyPublisher
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.kafka_acls import Acl, create_acls, delete_acls
from tests.integration.test_policy_to_pixels import Output, Traffic, face_sharpness, policies_doc
from tests.integration.worker_process import Worker, counters, worker_env
from tests.models.scenes import astronaut_bgr

pytestmark = [pytest.mark.integration, pytest.mark.models, pytest.mark.timeout(600)]

USER = "camguard-worker"
PASSWORD = uuid.uuid4().hex
POLICIES = "service.policies"


@dataclass(frozen=True)
class AclBroker:
    plaintext: str
    """bootstrap of the PLAINTEXT listener (User:ANONYMOUS, a super user)"""
    sasl_ssl_port: int
    tls_dir: Path

    def worker_security(self) -> dict[str, str]:
        return {
            "CAMGUARD_BROKER": f"kafka://127.0.0.1:{self.sasl_ssl_port}",
            "CAMGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CAMGUARD_KAFKA_SSL_CAFILE": str(self.tls_dir / "ca.pem"),
            "CAMGUARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CAMGUARD_KAFKA_SASL_USERNAME": USER,
            "CAMGUARD_KAFKA_SASL_PASSWORD": PASSWORD,
        }


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclBroker]:
    root = tmp_path_factory.mktemp("acl-kafka")
    port, sasl_ssl_port = free_port(), free_port()
    run_dir, tls_dir = root / "run", root / "tls"
    argv = ["bash", str(KAFKA_SCRIPT), "start", "--port", str(port), "--dir", str(run_dir)]
    argv += ["--tls-dir", str(tls_dir), "--sasl-ssl-port", str(sasl_ssl_port), "--acls"]
    argv += ["--sasl-user", USER, "--sasl-password", PASSWORD]
    started = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield AclBroker(f"127.0.0.1:{port}", sasl_ssl_port, tls_dir)
    finally:
        stop = ["bash", str(KAFKA_SCRIPT), "stop", "--port", str(port), "--dir", str(run_dir)]
        subprocess.run(stop, capture_output=True, check=False, timeout=60)


async def set_policy(bootstrap: str, org: str, camera: str, config: dict[str, Any]) -> None:
    """A camera-level privacy row (version 1) on service.policies, as the webhook publishes it."""
    row = PolicyRow(
        id=str(uuid.uuid4()),
        service_name=Settings().service_name,
        policy_type="privacy",
        org_id=org,
        camera_id=camera,
        version=1,
        config=config,
        updated_at_ms=int(time.time() * 1000),
    )
    async with KafkaPolicySink(bootstrap) as sink:
        await PolicyPublisher(sink, AvroCodec()).publish(row.key, row)


async def test_a_worker_started_without_its_policy_topic_fails_closed_then_catches_up(
    acl_broker: AclBroker, models_dir: Path, tmp_path: Path
) -> None:
    await ensure_topics(Settings(broker=f"kafka://{acl_broker.plaintext}"))
    run = uuid.uuid4().hex[:8]
    org, cam = f"org-acl-{run}", f"cam-acl-{run}"
    await set_policy(acl_broker.plaintext, org, cam, {"face_blur_enabled": False})
    denied = [Acl(POLICIES, f"User:{USER}")]
    await create_acls(acl_broker.plaintext, denied)

    env = worker_env(
        acl_broker.plaintext,
        app_id=f"policy-acl-{run}",
        store="memory://",
        models_dir=str(models_dir),
        consumer_auto_offset_reset="latest",
        worker_pool_size="1",
    )
    env.update(acl_broker.worker_security())
    env.pop("CAMGUARD_PG_DSN", None)
    env.pop("CAMGUARD_SUPABASE_URL", None)
    jpeg = bytes(cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
    original = face_sharpness(jpeg)

    def blurred(o: Output) -> bool:
        return o.faces >= 1 and o.face_boxes >= 1 and o.sharpness < original / 10

    def untouched(o: Output) -> bool:
        return o.faces == 0 and o.face_boxes == 0 and o.sharpness > 0.8 * original

    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    traffic = Traffic(acl_broker.plaintext, org, (cam,), jpeg)
    started = time.monotonic()
    try:
        await traffic.start()
        async with httpx.AsyncClient(timeout=10) as client:
            await traffic.until(
                lambda: len(traffic.of(cam)) >= 3, 300, "frames while policies are denied", worker
            )
            for o in traffic.outputs:
                assert blurred(o), o
                assert o.policy_version is None, o
            doc = await policies_doc(client, worker, org, cam)
            assert doc["ready"] is False, doc
            assert doc["versions"]["privacy"] is None, doc
            found = await counters(client, worker)
            assert found.get("frames.privacy_lookup_failed.policies_not_loaded", 0) >= 3, found
            log = worker.log.read_text(errors="replace")
            assert f"cannot read {POLICIES} at start" in log, worker.tail()
            print(
                f"denied phase: {len(traffic.outputs)} frames by {time.monotonic() - started:.1f} s"
            )

            assert await delete_acls(acl_broker.plaintext, denied) == 1
            allowed_from = traffic.seq
            await traffic.until(
                lambda: any(o.policy_version == 1 for o in traffic.of(cam, allowed_from)),
                120,
                "the policy row once the topic is readable",
                worker,
            )
            for o in traffic.of(cam, allowed_from):
                assert untouched(o) if o.policy_version == 1 else blurred(o), o
            doc = await policies_doc(client, worker, org, cam)
            assert doc["ready"] is True, doc
            assert doc["policies"]["privacy"]["face_blur_enabled"] is False, doc
            assert doc["versions"]["privacy"] == 1, doc
            print(f"policy read and applied by {time.monotonic() - started:.1f} s")
    finally:
        await traffic.stop()
        worker.stop()
    assert "Traceback" not in worker.log.read_text(errors="replace"), worker.tail()
