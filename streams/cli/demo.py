"""``camguard demo``: a local broker, a worker and simulated cameras, end to end.

Everything it starts is stopped on Ctrl-C (or after ``--duration`` seconds). It prints the
stats page URL and, every few seconds, how many messages went through each topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from agents.worker import prepare_topics
from streams.app import ANONYMIZED, DEADLETTER, EVENTS, FRAMES, HEALTH, TRANSITIONS
from streams.devstack import LocalKafka, free_port
from streams.settings import Settings

WATCHED = (FRAMES, EVENTS, ANONYMIZED, HEALTH, TRANSITIONS, DEADLETTER)


@dataclass
class DemoStack:
    """The processes the demo started, stopped in reverse order."""

    kafka: LocalKafka | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.kafka is not None:
            self.kafka.stop()


def _pick_port(preferred: int) -> int:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=out, stderr=subprocess.STDOUT
    )


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return bool(resp.status == 200)
    except OSError:
        return False


async def _watch(bootstrap: str, stop_at: float | None, stats_url: str) -> dict[str, int]:
    counts = dict.fromkeys(WATCHED, 0)
    consumer = AIOKafkaConsumer(
        *WATCHED,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        last_print = time.monotonic()
        while stop_at is None or time.monotonic() < stop_at:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                counts[tp.topic] += len(messages)
            if time.monotonic() - last_print >= 5:
                last_print = time.monotonic()
                line = "  ".join(f"{t}={n}" for t, n in counts.items())
                print(f"[demo] {line}   stats: {stats_url}", flush=True)
    finally:
        await consumer.stop()
    return counts


def run_demo(duration_s: float | None = None, cameras: int = 3) -> int:
    """Run the demo until Ctrl-C or ``duration_s``; exit status 0 when frames flowed."""
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # keep the running counts readable
    run_dir = Path(tempfile.mkdtemp(prefix="camguard-demo-"))
    stack = DemoStack()
    kafka_port = _pick_port(9092)
    web_port = _pick_port(6066)
    gateway_port = _pick_port(6067)
    bootstrap = f"127.0.0.1:{kafka_port}"
    env = {
        **os.environ,
        "CAMGUARD_BROKER": f"kafka://{bootstrap}",
        "CAMGUARD_WEB_PORT": str(web_port),
        "CAMGUARD_GATEWAY_PORT": str(gateway_port),
        "CAMGUARD_DATA_DIR": str(run_dir / "worker"),
        "CAMGUARD_SPOOL_DIR": str(run_dir / "spool"),
        "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "5",
        "CAMGUARD_GATEWAYS": f"http://127.0.0.1:{gateway_port}",  # the dashboard shows its spool
    }
    stats_url = f"http://127.0.0.1:{web_port}/stats/"
    try:
        print(f"[demo] starting Apache Kafka on {bootstrap} ...", flush=True)
        stack.kafka = LocalKafka(port=kafka_port, run_dir=run_dir / "kafka")
        print("[demo] " + stack.kafka.start(), flush=True)
        settings = Settings(broker=f"kafka://{bootstrap}")
        asyncio.run(prepare_topics(settings))
        print("[demo] starting the worker ...", flush=True)
        stack.processes.append(_spawn(["streams.cli", "worker"], env, run_dir / "worker.log"))
        deadline = time.monotonic() + 90
        while not _ready(f"http://127.0.0.1:{web_port}/healthz"):
            if time.monotonic() > deadline or stack.processes[0].poll() is not None:
                print(f"[demo] the worker did not come up; see {run_dir / 'worker.log'}")
                return 1
            time.sleep(0.5)
        print(f"[demo] starting {cameras} simulated cameras ...", flush=True)
        camera_args = ["streams.cli", "gateway", "--source", "synthetic", "--cameras", str(cameras)]
        stack.processes.append(_spawn(camera_args, env, run_dir / "gateway.log"))
        print(f"[demo] stats page:     {stats_url}", flush=True)
        print(f"[demo] dashboard:      http://127.0.0.1:{web_port}/dashboard", flush=True)
        print(f"[demo] cameras (JSON): http://127.0.0.1:{web_port}/api/cameras", flush=True)
        print(f"[demo] gateway queue:  http://127.0.0.1:{gateway_port}/queue/stats", flush=True)
        print(f"[demo] logs in {run_dir}; Ctrl-C stops everything", flush=True)
        stop_at = None if duration_s is None else time.monotonic() + duration_s
        counts: dict[str, int] = {}
        with contextlib.suppress(KeyboardInterrupt):
            counts = asyncio.run(_watch(bootstrap, stop_at, stats_url))
        print(f"[demo] totals: {counts}", flush=True)
        return 0 if counts.get(FRAMES, 0) > 0 else 1
    finally:
        print("[demo] stopping ...", flush=True)
        stack.stop()
