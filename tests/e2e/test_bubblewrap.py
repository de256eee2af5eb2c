"""The worker and the gateway under the compose file's hardening, frames through the real broker.

infra/docker/compose.yaml runs every camguard service with a read-only root, a noexec tmpfs
/tmp, all capabilities dropped, a non-root uid, no new privileges and only its data dir
writable. No Docker daemon exists here, so tests/e2e/sandbox.py applies the same constraints
with bubblewrap, and this test checks them from inside, then runs ``camguard worker`` and
``camguard gateway`` under them and reads every frame back, anonymized, from Kafka.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from streams.anonymize.model_registry import fetch_models
from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, free_port
from streams.settings import Settings
from tests.e2e.commands import Served, serve
from tests.e2e.sandbox import UID, check_available, sandboxed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FRAMES = 15
MODELS_IN_SANDBOX = Path("/tmp/camguard-models")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    directory = Settings().models_dir
    fetch_models(directory)
    return directory


def _tmpfs(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def test_the_sandbox_enforces_what_compose_promises(tmp_path: Path) -> None:
    check_available()
    data = _tmpfs(tmp_path, "data")
    probe = (
        "id -u; touch /probe 2>/dev/null && echo root-writable || echo root-read-only; "
        f"touch {data}/ok && echo data-writable; "
        "cp /bin/true /tmp/t && (/tmp/t 2>/dev/null && echo tmp-exec || echo tmp-noexec); "
        "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status"
    )
    argv = sandboxed(["sh", "-c", probe], _tmpfs(tmp_path, "sandbox-tmp"), writable=[data])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    lines = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert lines[0] == str(UID)
    assert "root-read-only" in lines
    assert "data-writable" in lines
    assert "tmp-noexec" in lines
    status = dict(zip(lines[-4::2], lines[-3::2], strict=True))
    assert status == {"CapEff:": "0000000000000000", "NoNewPrivs:": "1"}


async def _anonymized(bootstrap: str, cameras: set[str], within: float) -> dict[str, set[int]]:
    codec = AvroCodec()
    consumer = AIOKafkaConsumer(
        "camera.frames.anonymized",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    seqs: dict[str, set[int]] = {camera: set() for camera in cameras}
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while sum(map(len, seqs.values())) < FRAMES * len(cameras) and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                for message in messages:
                    key = message.key.decode() if message.key else ""
                    if key in cameras:
                        record = codec.decode_as("AnonymizedFrame", message.value)
                        assert not record["fail_closed"], record["camera_id"]
                        seqs[key].add(record["seq"])
    finally:
        await consumer.stop()
    return seqs


async def test_worker_and_gateway_run_hardened_and_frames_flow(
    kafka_bootstrap: str,
    models_dir: Path,
    tmp_path: Path,
) -> None:
    check_available()
    tag = uuid.uuid4().hex[:8]
    cameras = {f"bwrap-{tag}-a", f"bwrap-{tag}-b"}
    worker_data, spool = _tmpfs(tmp_path, "worker-data"), _tmpfs(tmp_path, "spool")
    web_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ,
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_APP_ID": f"bwrap-{tag}",
        "CAMGUARD_STORE": "memory://",
        "CAMGUARD_MODELS_DIR": str(MODELS_IN_SANDBOX),
        "CAMGUARD_DATA_DIR": str(worker_data / "data"),
        "CAMGUARD_SPOOL_DIR": str(spool / "spool"),
        "CAMGUARD_WEB_PORT": str(web_port),
        "CAMGUARD_GATEWAY_PORT": str(gateway_port),
        "CAMGUARD_WORKER_POOL_SIZE": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    python = [sys.executable, "-m", "streams.cli"]
    worker_log, gateway_log = tmp_path / "worker.log", tmp_path / "gateway.log"
    worker_argv = sandboxed(
        [*python, "worker", "-l", "warning"],
        _tmpfs(tmp_path, "worker-tmp"),
        writable=[worker_data],
        readable={models_dir: MODELS_IN_SANDBOX},
    )
    worker = serve(worker_argv, REPO_ROOT, env, worker_log)
    gateway: Served | None = None
    try:
        url = f"http://127.0.0.1:{web_port}/healthz"
        await asyncio.to_thread(worker.get, url, 180)
        argv = [*python, "gateway", "--fps", "10", "--max-frames", str(FRAMES)]
        for camera in sorted(cameras):
            argv += ["--camera-id", camera]
        gateway_argv = sandboxed(argv, _tmpfs(tmp_path, "gateway-tmp"), writable=[spool])
        gateway = serve(gateway_argv, REPO_ROOT, env, gateway_log)
        seqs = await _anonymized(kafka_bootstrap, cameras, within=240)
        expected = {camera: set(range(1, FRAMES + 1)) for camera in cameras}
        assert seqs == expected, worker.tail() + gateway.tail()
        assert await asyncio.to_thread(gateway.proc.wait, 60) == 0, gateway.tail()
        assert worker.proc.poll() is None, "the worker still runs under the sandbox"
    finally:
        for served in (gateway, worker):
            if served is not None:
                served.stop(within=30)
