"""A ``camguard worker`` subprocess for integration tests, and polling helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.devstack import REPO_ROOT, free_port


class Worker:
    """A ``camguard worker`` subprocess with its own data directory and web port."""

    def __init__(
        self, env: dict[str, str], data_dir: Path, log: Path, loglevel: str = "warning"
    ) -> None:
        self.port = free_port()
        self.log = log
        argv = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(self.port)]
        argv += ["--data-dir", str(data_dir), "-l", loglevel]
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def worker_env(bootstrap: str, **extra: str) -> dict[str, str]:
    """The environment of a worker subprocess talking to ``bootstrap``."""
    env = {**os.environ, "CAMGUARD_BROKER": f"kafka://{bootstrap}"}
    env.update({f"CAMGUARD_{k.upper()}": v for k, v in extra.items()})
    return env


async def counters(client: httpx.AsyncClient, worker: Worker) -> dict[str, Any]:
    """The worker's camguard counters from /readyz ({} while it is not serving)."""
    try:
        body = (await client.get(f"{worker.url}/readyz")).json()
    except (httpx.TransportError, ValueError):
        return {}
    return dict(body.get("counters", {}))


async def local_cameras(client: httpx.AsyncClient, worker: Worker, prefix: str) -> dict[str, Any]:
    """Cameras whose id starts with ``prefix`` in the worker's own partitions, by id."""
    try:
        answer = await client.get(f"{worker.url}/api/cameras", params={"scope": "local"})
    except httpx.TransportError:
        return {}
    if answer.status_code != 200:
        return {}
    return {
        c["camera_id"]: c for c in answer.json()["cameras"] if c["camera_id"].startswith(prefix)
    }


async def partitions_of(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, as the broker describes them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], part["partition"])
        for topic in described
        for part in topic["partitions"]
    ]


async def start_at_end(bootstrap: str, group_id: str, topics: Sequence[str]) -> None:
    """Commit ``group_id``'s offsets on ``topics`` at their current end.

    A worker of a fresh group (``CAMGUARD_APP_ID``) reads every topic from the start; this
    makes it skip what earlier tests left on ``topics`` (e.g. hundreds of frames to anonymize
    on ``camera.frames``, minutes of CPU on 2 cores) while its other topics still start at the
    beginning.
    """
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()
