"""Kafka over TLS and SASL: worker, gateway and CLI against a broker with secured listeners.

The broker is infra/kafka/kafka.sh with its opt-in flags: a SASL_SSL listener (SCRAM-SHA-512,
SCRAM-SHA-256 and PLAIN for one user; the SCRAM credentials are added at KRaft format time) and
an SSL listener that requires a client certificate. kafka.sh makes the CA, the broker's PKCS12
keystore and truststore and a client certificate with openssl and keytool in the test's folder.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from streams.app import ANONYMIZED, FRAMES
from streams.codec import AvroCodec
from streams.devstack import KAFKA_SCRIPT, REPO_ROOT, free_port
from streams.kafka_security import aiokafka_kwargs
from streams.settings import Settings
from tests.integration.worker_process import Worker
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

USER = "camguard-svc"
PASSWORD = uuid.uuid4().hex
CODEC = AvroCodec()


@dataclass(frozen=True)
class SecureBroker:
    sasl_ssl_port: int
    ssl_port: int
    tls_dir: Path
    other_ca: Path
    """A CA that did not sign the broker's certificate."""

    def env(self, protocol: str = "SASL_SSL", **settings: str) -> dict[str, str]:
        """CAMGUARD_* variables for a client of the listener that speaks ``protocol``."""
        port = self.ssl_port if protocol == "SSL" else self.sasl_ssl_port
        values = {
            "broker": f"kafka://127.0.0.1:{port}",
            "kafka_security_protocol": protocol,
            "kafka_ssl_cafile": str(self.tls_dir / "ca.pem"),
        }
        if protocol == "SASL_SSL":
            values |= {
                "kafka_sasl_mechanism": "SCRAM-SHA-512",
                "kafka_sasl_username": USER,
                "kafka_sasl_password": PASSWORD,
            }
        values |= settings
        return {f"CAMGUARD_{key.upper()}": value for key, value in values.items()}

    def settings(self, protocol: str = "SASL_SSL", **settings: str) -> Settings:
        env = self.env(protocol, **settings)
        return Settings(**{key.removeprefix("CAMGUARD_").lower(): v for key, v in env.items()})


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("secure-kafka")
    port, sasl_ssl_port, ssl_port = free_port(), free_port(), free_port()
    run_dir, tls_dir = root / "run", root / "tls"
    argv = ["bash", str(KAFKA_SCRIPT), "start", "--port", str(port), "--dir", str(run_dir)]
    argv += ["--tls-dir", str(tls_dir), "--sasl-ssl-port", str(sasl_ssl_port)]
    argv += ["--ssl-port", str(ssl_port), "--sasl-user", USER, "--sasl-password", PASSWORD]
    started = subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False)
    assert started.returncode == 0, started.stderr[-3000:]
    other_ca = root / "other-ca.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    openssl += ["-subj", "/CN=not the broker's CA", "-keyout", str(root / "other-ca.key")]
    made = subprocess.run(
        [*openssl, "-out", str(other_ca)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    try:
        yield SecureBroker(sasl_ssl_port, ssl_port, tls_dir, other_ca)
    finally:
        stop = ["bash", str(KAFKA_SCRIPT), "stop", "--port", str(port), "--dir", str(run_dir)]
        subprocess.run(stop, capture_output=True, check=False, timeout=60)


def camguard(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, str, float]:
    """Run ``camguard ARGS``; (exit status, stdout + stderr, seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def gateway_args(camera: str, frames: int) -> list[str]:
    return ["gateway", "--camera-id", camera, "--fps", "10", "--max-frames", str(frames)]


def gateway_env(tmp_path: Path, security: dict[str, str]) -> dict[str, str]:
    spool = {"CAMGUARD_SPOOL_DIR": str(tmp_path / "spool")}
    return {**security, **spool, "CAMGUARD_GATEWAY_PORT": str(free_port())}


async def records_of(
    settings: Settings, topic: str, key: str, want: int
) -> list[dict[str, object]]:
    """Decoded records of ``topic`` keyed ``key`` (reads until ``want`` or 90 s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
        **aiokafka_kwargs(settings),
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    record = "Frame" if topic == FRAMES else "AnonymizedFrame"
    try:
        deadline = time.monotonic() + 90
        while len(found) < want and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                found += [
                    CODEC.decode_as(record, m.value) for m in messages if m.key == key.encode()
                ]
    finally:
        await consumer.stop()
    return found


async def test_worker_and_gateway_over_sasl_ssl_scram_sha_512(
    secure_broker: SecureBroker, models_dir: Path, tmp_path: Path
) -> None:
    security = secure_broker.env()
    worker_env = {
        **os.environ,
        **security,
        "CAMGUARD_APP_ID": f"secure-{uuid.uuid4().hex[:8]}",
        "CAMGUARD_STORE": "memory://",
        "CAMGUARD_MODELS_DIR": str(models_dir),
        "CAMGUARD_WORKER_POOL_SIZE": "1",
    }
    worker = Worker(worker_env, tmp_path / "data", tmp_path / "worker.log", loglevel="info")
    camera = f"secure-{uuid.uuid4().hex[:8]}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def status(path: str) -> int | None:
                assert worker.proc.poll() is None, worker.tail()
                try:
                    answer = await client.get(f"{worker.url}{path}")
                except httpx.TransportError:
                    return None
                return answer.status_code if answer.status_code == 200 else None

            await eventually(lambda: status("/readyz"), 240, "the worker to be ready over SASL_SSL")
            rc, output, _ = await asyncio.to_thread(
                camguard, gateway_args(camera, 6), gateway_env(tmp_path, security)
            )
            assert rc == 0, output[-3000:]
            settings = secure_broker.settings()
            frames = await records_of(settings, FRAMES, camera, 6)
            assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5, 6]
            anonymized = await records_of(settings, ANONYMIZED, camera, 6)
            assert len(anonymized) == 6, worker.tail()
            await eventually(
                lambda: status(f"/api/cameras/{camera}"), 60, "the camera's health on the worker"
            )
            assert (await client.get(f"{worker.url}/healthz")).json()["status"] == "ok"
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("protocol", "settings"),
    [
        pytest.param("SASL_SSL", {"kafka_sasl_mechanism": "PLAIN"}, id="sasl-plain"),
        pytest.param("SASL_SSL", {"kafka_sasl_mechanism": "SCRAM-SHA-256"}, id="scram-sha-256"),
        pytest.param(
            "SSL",
            {"kafka_ssl_certfile": "client.pem", "kafka_ssl_keyfile": "client.key"},
            id="tls-client-certificate",
        ),
    ],
)
async def test_gateway_with_other_mechanisms(
    secure_broker: SecureBroker, tmp_path: Path, protocol: str, settings: dict[str, str]
) -> None:
    settings = {
        k: str(secure_broker.tls_dir / v) if "file" in k else v for k, v in settings.items()
    }
    camera = f"{protocol.lower()}-{uuid.uuid4().hex[:8]}"
    security = secure_broker.env(protocol, **settings)
    rc, output, _ = await asyncio.to_thread(
        camguard, gateway_args(camera, 3), gateway_env(tmp_path, security)
    )
    assert rc == 0, output[-3000:]
    frames = await records_of(secure_broker.settings(), FRAMES, camera, 3)
    assert [f["seq"] for f in frames] == [1, 2, 3]


WRONG = {
    "wrong-password": ({"kafka_sasl_password": "not-the-password"}, "authentication failed"),
    "untrusted-ca": ({"kafka_ssl_cafile": "OTHER_CA"}, "certificate verify failed"),
}


@pytest.mark.parametrize("command", ["gateway", "worker", "kafka-topics"])
@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_credentials_fail_fast_with_the_cause(
    secure_broker: SecureBroker, tmp_path: Path, command: str, case: str
) -> None:
    overrides, cause = WRONG[case]
    overrides = {
        k: str(secure_broker.other_ca) if v == "OTHER_CA" else v for k, v in overrides.items()
    }
    env = gateway_env(tmp_path, secure_broker.env(**overrides))
    args = {
        "gateway": gateway_args("never-sent", 3),
        "worker": ["worker", "--web-port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        "kafka-topics": ["kafka", "topics"],
    }[command]
    rc, output, seconds = camguard(args, env, timeout=90)
    assert rc != 0, output[-3000:]
    assert cause in output, output[-3000:]
    assert seconds < 60
    assert PASSWORD not in output
    assert "not-the-password" not in output
