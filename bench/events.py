"""Events throughput: the events agent (breaker + health tables) against a bare aiokafka loop.

One run, one broker, the same ``camera.events`` messages (Avro ``CameraEvent``, N cameras):

- peer: a bare ``aiokafka`` consumer loop (``async for message in consumer``) reading them;
  for context only, the same loop decoding each message as the events agent does
  (``AvroCodec`` without logical types: the compiled reader);
- reference: a Faust worker whose only agent counts the messages (no decode, no tables): what
  Faust's per-message machinery costs by itself;
- camguard: a ``camguard worker`` subprocess whose events agent (a batch lane in Faust's
  consumer, streams/lanes.py) decodes each message, folds it into the camera's breaker and
  health, and writes both changelog-backed table rows (once per camera per batch); events/s
  is read from its ``/readyz`` counter.

Rates are taken from the first message seen to the last, so start-up and recovery are left
out; for the camguard worker the window opens once its anonymizer has loaded its models (that
runs ONNX Runtime on the same cores). Printed: the rates, camguard / bare (the goal is >= 0.5)
and camguard / Faust no-op.

    .venv/bin/python bench/events.py [--events 400000] [--cameras 100] [--bootstrap host:port]

Without ``--bootstrap`` a throwaway broker is started (infra/kafka, a free port). With one,
``camera.events`` should be empty: both sides read the topic from its beginning.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import faust
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.web import Request, Response, View

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, LocalKafka, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics

TOPIC = "camera.events"
LOGLEVEL = "info"
"""Both workers log at ``info`` (camguard's default). At ``warning`` or above Faust's console
spinner sets the root logger to DEBUG for good, and every debug call in aiokafka and Faust
(several per produced record) builds a LogRecord: about 5 % of the worker's CPU in a cProfile
run, within run-to-run noise end to end."""


async def produce(bootstrap: str, events: int, cameras: int) -> None:
    codec = AvroCodec()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        now = int(time.time() * 1000)
        for i in range(events):
            camera_id = f"bench-cam-{i % cameras}"
            kind = "FRAME_ERROR" if i % 97 == 0 else "FRAME_OK"
            record = {
                "event_id": str(uuid.uuid4()),
                "camera_id": camera_id,
                "occurred_at": now + i // cameras,
                "kind": kind,
                "latency_ms": 5.0 + i % 40,
                "attributes": {},
            }
            value = codec.encode("CameraEvent", record)
            await producer.send(TOPIC, value=value, key=camera_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def bare_loop(bootstrap: str, events: int, decode: bool = False) -> float:
    """Messages per second of a bare aiokafka loop over the topic (optionally Avro-decoding)."""
    codec = AvroCodec()
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, first = 0, 0.0
        async for message in consumer:
            if seen == 0:
                first = time.perf_counter()
            if decode:
                codec.decode_as("CameraEvent", message.value, logical_types=False)
            seen += 1
            if seen >= events:
                break
        return (events - 1) / (time.perf_counter() - first)
    finally:
        await consumer.stop()


async def processed(client: httpx.AsyncClient, url: str) -> int:
    """The worker's ``events.processed`` counter, from /readyz (503 while recovering).

    Not /metrics: rendering Faust's whole Prometheus registry on every poll costs the worker
    being measured about 5 % of its CPU.
    """
    try:
        body = (await client.get(f"{url}/readyz")).json()
    except (httpx.TransportError, ValueError):
        return 0
    return int(body.get("counters", {}).get("events.processed", 0))


def serve_noop(bootstrap: str, port: int, data_dir: str) -> None:
    """Run a Faust worker whose one agent only counts ``camera.events`` messages."""
    app = faust.App(
        f"bench-noop-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        web_port=port,
        datadir=data_dir,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(TOPIC, key_serializer="raw", value_serializer="raw")
    seen = [0]

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for _event in stream.events():
            seen[0] += 1

    @app.page("/readyz")
    class Count(View):
        async def get(self, request: Request) -> Response:
            return self.json({"counters": {"events.processed": seen[0]}})

    faust.Worker(app, loglevel=LOGLEVEL, redirect_stdouts=False).execute_from_commandline()


def start_worker(bootstrap: str, port: int, work: Path, app_id: str) -> subprocess.Popen[bytes]:
    """A ``camguard worker`` subprocess on a fresh app id (reads the topic from the start)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CAMGUARD_BROKER": f"kafka://{bootstrap}",
        "CAMGUARD_APP_ID": app_id,
        "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "5",
        # The frames agent calibrates its ONNX batch size at start (inference at batch sizes
        # 1..8, ~3 s of both cores here); with 1 it only loads the models. The rate is taken
        # once the anonymizer is ready either way (see _measure).
        "CAMGUARD_BATCH_MAX_FRAMES": "1",
    }
    argv = [sys.executable, "-m", "agents.cli", "worker", "--web-port", str(port)]
    argv += ["--data-dir", str(work / "worker"), "-l", LOGLEVEL]
    with (work / "worker.log").open("wb") as log:
        return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)


def start_noop(bootstrap: str, port: int, work: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, __file__, "--serve-noop", str(port), "--bootstrap", bootstrap]
    argv += ["--data-dir", str(work / "noop")]
    with (work / "noop.log").open("wb") as log:
        return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=log)


async def agent_rate(bootstrap: str, events: int, work: Path, noop: bool = False) -> float:
    """Events per second through the events agent of a worker subprocess."""
    port = free_port()
    if noop:
        worker = start_noop(bootstrap, port, work)
    else:
        app_id = f"bench-{uuid.uuid4().hex[:6]}"
        await ensure_changelog_topics(Settings(broker=f"kafka://{bootstrap}", app_id=app_id))
        worker = start_worker(bootstrap, port, work, app_id)
    try:
        return await _measure(f"http://127.0.0.1:{port}", events, worker, wait_models=not noop)
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 60)


async def _anonymizer_ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        body = (await client.get(f"{url}/api/anonymizer")).json()
    except (httpx.TransportError, ValueError):
        return False
    return bool(body.get("detector"))


async def _measure(
    url: str, events: int, worker: subprocess.Popen[bytes], wait_models: bool = False
) -> float:
    """Events/s from the first count seen after start-up (and model loading) to the last.

    With ``wait_models`` the window opens only once ``/api/anonymizer`` reports its detectors:
    loading them runs ONNX Runtime on the same cores and is not part of the events path.
    """
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = time.monotonic() + 300
        start_count, started = 0, 0.0
        ready = not wait_models
        while True:
            assert worker.poll() is None, "worker exited; see worker.log"
            assert time.monotonic() < deadline, "the worker did not finish in 300 s"
            ready = ready or await _anonymizer_ready(client, url)
            count = await processed(client, url)
            if ready and count and not started:
                start_count, started = count, time.perf_counter()
                if count > events // 2:
                    print(f"warning: {count} of {events} events were processed during start-up")
            if count >= events and started:
                return (count - start_count) / (time.perf_counter() - started)
            if count >= events:
                raise RuntimeError("all events processed before the worker was ready; use more")
            await asyncio.sleep(0.05)


async def run(args: argparse.Namespace, work: Path) -> None:
    bootstrap = args.bootstrap
    broker = None
    if bootstrap is None:
        broker = LocalKafka(port=free_port(), run_dir=work / "kafka")
        broker.start()
        bootstrap = broker.bootstrap
    try:
        await ensure_topics(Settings(broker=f"kafka://{bootstrap}"))
        await produce(bootstrap, args.events, args.cameras)
        bare = await bare_loop(bootstrap, args.events)
        decoding = await bare_loop(bootstrap, args.events, decode=True)
        noop = await agent_rate(bootstrap, args.events, work, noop=True)
        ours = await agent_rate(bootstrap, args.events, work)
    finally:
        if broker is not None:
            broker.stop()
    print(f"events: {args.events} over {args.cameras} cameras, broker {bootstrap}")
    print(f"bare aiokafka loop          : {bare:10.0f} msg/s")
    print(f"bare aiokafka + Avro decode : {decoding:10.0f} msg/s (context only)")
    print(f"Faust no-op agent           : {noop:10.0f} msg/s")
    print(f"camguard events agent       : {ours:10.0f} events/s (breaker + health, 2 tables)")
    print(f"ratio camguard / bare       : {ours / bare:10.2f}  (goal >= 0.5)")
    print(f"ratio camguard / Faust no-op: {ours / noop:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--bootstrap", default=None, help="host:port of an existing broker")
    parser.add_argument("--serve-noop", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop is not None:
        sys.argv = [*sys.argv[:1], "worker"]  # faust.Worker reads its own command line
        serve_noop(args.bootstrap, args.serve_noop, args.data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="camguard-bench-events-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
