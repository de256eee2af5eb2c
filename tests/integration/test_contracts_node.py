"""The TypeScript contracts against the Python service: Avro over a real broker, HTTP over a
real Faust web server.

Python produces one message of every record type with AvroCodec (aiokafka); the Node program
(codegen/tests/roundtrip.ts, compiled with the project's tsc) decodes them with the generated
runtime, checks them against the generated types and echoes them re-encoded; it then produces a
Frame of its own, which Python consumes and decodes. A second Node program
(codegen/tests/produce_frame.ts) produces a real JPEG Frame to camera.frames, which a
``camguard worker`` subprocess anonymizes with the real models.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import os
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import faust
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from codegen.avro_schema import SchemaFile
from codegen.avro_ts import compile_types
from codegen.generate import build_outputs, stale_outputs
from streams.app import ANONYMIZED, DEADLETTER, FRAMES
from streams.codec import AvroCodec, SchemaCatalog
from streams.contract.openapi import export_service_contracts, service_version
from streams.devstack import free_port
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.web import openapi_view as openapi_views
from tests.integration.worker_process import Worker, worker_env
from tests.models.scenes import astronaut_bgr
from tests.support.waiting import eventually

CODEGEN = Path(__file__).resolve().parents[2] / "codegen"
MS = 1_700_000_000_000
RESEND_S = 20.0

POLICY = {
    "id": "6b0f6a52-5a50-4c7e-9d87-0a6c3bde0e11",
    "service_name": "camguard",
    "policy_type": "privacy",
    "org_id": "org-1",
    "version": 3,
    "config": '{"blur_faces": true}',
    "updated_at": MS,
}
FRAME = {
    "camera_id": "cam-1",
    "org_id": "org-1",
    "captured_at": MS,
    "seq": 1,
    "encoding": "JPEG",
    "width": 640,
    "height": 480,
    "data": b"\xff\xd8\xff\x00",
}
BOX = {"kind": "FACE", "x": 1, "y": 2, "w": 3, "h": 4, "score": 0.75}
SAMPLES: dict[str, dict[str, Any]] = {
    "Frame": FRAME,
    "AnonymizedFrame": {
        **FRAME,
        "faces": 1,
        "plates": 0,
        "boxes": [BOX],
        "policy_version": 3,
        "detector": "centerface@cpu",
        "latency_ms": 12.5,
        "fail_closed": False,
    },
    "Box": BOX,
    "CameraEvent": {
        "event_id": "0d9b7c52-31f4-4bfc-a1a2-3d8a0c3e6f10",
        "camera_id": "cam-1",
        "occurred_at": MS,
        "kind": "FRAME_ERROR",
        "latency_ms": 3.25,
        "error": "timeout",
        "attributes": {"fw": "1.2", "zone": "north"},
    },
    "CameraHealth": {
        "camera_id": "cam-1",
        "online": True,
        "last_seen": MS,
        "frames_processed": 2**40,
        "errors_count": 2,
        "avg_latency_ms": 10.0,
        "p95_latency_ms": 20.0,
        "fps": 4.5,
        "circuit_breaker_state": "HALF_OPEN",
        "observed_at": MS,
    },
    "BreakerTransition": {
        "camera_id": "cam-1",
        "from_state": "CLOSED",
        "to_state": "OPEN",
        "reason": "failure_threshold",
        "at": MS,
        "retry_after_ms": 30_000,
        "consecutive_failures": 5,
    },
    "PolicyRecord": POLICY,
    "PolicyChange": {
        "key": "camguard/privacy/org-1/*",
        "operation": "UPDATE",
        "old": {**POLICY, "version": 2},
        "new": POLICY,
        "actor": "webhook",
        "at": MS,
    },
    "DeadLetter": {
        "topic": "camera.frames",
        "partition": 0,
        "offset": 17,
        "key": b"cam-1",
        "value": b"\x00\x01",
        "reason": "not_avro",
        "detail": "missing Avro single-object marker C3 01",
        "consumer": "frames",
        "at": MS,
    },
}


def _node() -> str:
    if not (CODEGEN / "node_modules" / "typescript").is_dir():
        pytest.fail("codegen/node_modules missing: run `make node-deps` (npm ci in codegen/)")
    return "node"


@pytest.fixture(scope="module")
def node_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TypeScript project (generated code, runtime, Node tests) compiled to JavaScript."""
    out = tmp_path_factory.mktemp("node-build")
    tsc = CODEGEN / "node_modules" / "typescript" / "bin" / "tsc"
    done = subprocess.run(
        [_node(), str(tsc), "-p", str(CODEGEN), "--outDir", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def node_env() -> Mapping[str, str]:
    return {**os.environ, "NODE_PATH": str(CODEGEN / "node_modules")}


async def _produce_samples(bootstrap: str, topic: str, codec: AvroCodec) -> dict[str, bytes]:
    sent = {name: codec.encode(name, record) for name, record in SAMPLES.items()}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for name, value in sent.items():
            key = str(SAMPLES[name].get("camera_id", name)).encode()
            await producer.send_and_wait(topic, value, key=key, headers=[("record", name.encode())])
    finally:
        await producer.stop()
    return sent


async def _consume(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


async def _create_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


@pytest.mark.integration
async def test_node_reads_python_messages_and_python_reads_node_frame(
    kafka_bootstrap: str, node_build: Path
) -> None:
    codec = AvroCodec()
    run = uuid.uuid4().hex[:8]
    source, sink = f"contracts.py-to-node.{run}", f"contracts.node-to-py.{run}"
    await _create_topics(kafka_bootstrap, source, sink)
    sent = await _produce_samples(kafka_bootstrap, source, codec)

    node = await asyncio.create_subprocess_exec(
        "node",
        str(node_build / "tests" / "roundtrip.js"),
        "--brokers", kafka_bootstrap,
        "--input", source,
        "--output", sink,
        "--expect", str(len(sent)),
        env=node_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(node.communicate(), timeout=120)
    assert node.returncode == 0, stderr.decode()
    summary = json.loads(stdout.decode().strip().splitlines()[-1])
    assert summary["decoded"] == dict.fromkeys(SAMPLES, 1)
    assert summary["frame"] == codec.catalog.current("Frame").fingerprint.hex()

    received = await _consume(kafka_bootstrap, sink, len(sent) + 1)
    by_source: dict[str, list[Any]] = {}
    for message in received:
        by_source.setdefault(dict(message.headers)["source"].decode(), []).append(message)
    echoes = {dict(m.headers)["record"].decode(): m.value for m in by_source["echo"]}
    # avsc re-encodes every value to the very bytes fastavro wrote.
    assert echoes == sent

    (frame_message,) = by_source["node"]
    assert frame_message.key == b"cam-node"
    frame = codec.decode_as("Frame", frame_message.value)
    assert frame["camera_id"] == "cam-node"
    assert frame["seq"] == 42
    assert frame["org_id"] is None  # omitted on the TypeScript side: the default was written
    assert frame["data"] == b"\x89PNG"
    assert int(frame["captured_at"].timestamp() * 1000) == 1_700_000_000_123


async def _node_produce_frame(
    build: Path, bootstrap: str, camera: str, seq: int, image: Path, shape: tuple[int, ...]
) -> dict[str, Any]:
    node = await asyncio.create_subprocess_exec(
        "node", str(build / "tests" / "produce_frame.js"),
        "--brokers", bootstrap, "--topic", FRAMES, "--camera", camera, "--seq", str(seq),
        "--width", str(shape[1]), "--height", str(shape[0]), "--image", str(image),
        env=node_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(node.communicate(), timeout=60)
    assert node.returncode == 0, stderr.decode()
    summary: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return summary


async def _worker_ready(worker: Worker) -> None:
    """Wait until the worker's partitions are assigned and its detectors are loaded."""
    async with httpx.AsyncClient(timeout=5) as client:

        async def ready() -> bool | None:
            if worker.proc.poll() is not None:
                raise AssertionError(f"worker exited with {worker.proc.returncode}")
            try:
                readiness = (await client.get(f"{worker.url}/readyz")).json()
                anonymizer = (await client.get(f"{worker.url}/api/anonymizer")).json()
            except (httpx.HTTPError, ValueError):
                return None
            return True if readiness["ready"] and anonymizer["detector"] else None

        await eventually(ready, 180, "the worker's /readyz and loaded detectors")


async def _anonymized_output(
    bootstrap: str, codec: AvroCodec, camera: str, seq: int, produce: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """The worker's AnonymizedFrame for ``camera``'s frame ``seq``; fails on a dead letter.

    ``produce`` runs at once and again every RESEND_S: a fresh consumer group that joined just
    before the first send may still resolve "latest" past it."""
    consumer = AIOKafkaConsumer(
        ANONYMIZED, DEADLETTER, bootstrap_servers=bootstrap,
        auto_offset_reset="earliest", group_id=None,
    )  # fmt: skip
    await consumer.start()
    next_send = time.monotonic()

    async def probe() -> dict[str, Any] | None:
        nonlocal next_send
        if time.monotonic() >= next_send:
            await produce()
            next_send = time.monotonic() + RESEND_S
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in (r for r in records if r.key == camera.encode()):
                if record.topic == DEADLETTER:
                    letter = codec.decode_as("DeadLetter", record.value)
                    raise AssertionError(f"dead-lettered: {letter['reason']}: {letter['detail']}")
                out = codec.decode_as("AnonymizedFrame", record.value)
                if out["seq"] == seq:
                    return out
        return None

    try:
        return await eventually(probe, 180, f"the AnonymizedFrame of {camera} #{seq}")
    finally:
        await consumer.stop()


@pytest.mark.integration
@pytest.mark.models
@pytest.mark.timeout(420)
async def test_the_python_worker_anonymizes_a_frame_that_node_produced(
    kafka_bootstrap: str, node_build: Path, models_dir: Path, tmp_path: Path
) -> None:
    await ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}"))
    codec, run = AvroCodec(), uuid.uuid4().hex[:8]
    camera, seq = f"cam-node-{run}", 7
    image = astronaut_bgr()
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
    jpeg = tmp_path / "astronaut.jpg"
    jpeg.write_bytes(encoded.tobytes())
    env = worker_env(
        kafka_bootstrap,
        app_id=f"contracts-node-{run}",  # a fresh consumer group that starts at the log end
        consumer_auto_offset_reset="latest",
        store="memory://",
        models_dir=str(models_dir),
        worker_pool_size="1",
    )
    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log")
    sent: list[dict[str, Any]] = []

    async def produce() -> None:
        shape = image.shape
        sent.append(
            await _node_produce_frame(node_build, kafka_bootstrap, camera, seq, jpeg, shape)
        )

    try:
        await _worker_ready(worker)
        out = await _anonymized_output(kafka_bootstrap, codec, camera, seq, produce)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker log:\n{worker.tail()}") from exc
    finally:
        worker.stop()

    assert sent[0]["fingerprint"] == codec.catalog.current("Frame").fingerprint.hex()
    assert (sent[0]["camera_id"], sent[0]["seq"], sent[0]["bytes"]) == (camera, seq, len(encoded))
    assert (out["camera_id"], out["seq"]) == (camera, seq)
    assert out["faces"] >= 1
    assert out["fail_closed"] is False
    assert out["detector"]
    assert (out["width"], out["height"]) == (image.shape[1], image.shape[0])
    decoded = cv2.imdecode(np.frombuffer(out["data"], np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None, "not a decodable JPEG"
    assert decoded.shape == image.shape


EVERY_TYPE = json.loads(
    (Path(__file__).parents[1] / "unit" / "codegen" / "every_type.avsc").read_text()
)
EVERY_VALUE: dict[str, Any] = {
    "nothing": None,
    "flag": False,
    "small": -7,
    "big": 2**52 + 1,
    "ratio": 0.5,
    "precise": 1.25,
    "blob": b"\x00\xff",
    "text": "héllo",
    "color": "GREEN",
    "digest": bytes(range(16)),
    "tags": ["a"],
    "children": [{"label": "kid", "weight": 2.0}],
    "counts": {"x": 3},
    "nested_map": {"k": [1, None]},
    "maybe": "yes",
    "maybe_child": None,
    "choice": 12345,
    "created_at": MS,
    "created_us": MS * 1000,
    "day": datetime.date(2024, 1, 2),
    "clock": datetime.time(1, 2, 3),
    "id": "0d9b7c52-31f4-4bfc-a1a2-3d8a0c3e6f10",
    "amount": decimal.Decimal("12.34"),
    "fixed_amount": decimal.Decimal("-1.0000"),
    "seen_at": None,
}
# What avsc (wrapUnions false, no logical-type classes) hands to TypeScript, per avro_ts.py.
EVERY_DECODED: dict[str, Any] = {
    **EVERY_VALUE,
    "blob": {"buffer": "00ff"},
    "digest": {"buffer": bytes(range(16)).hex()},
    "day": (datetime.date(2024, 1, 2) - datetime.date(1970, 1, 1)).days,
    "clock": ((1 * 60 + 2) * 60 + 3) * 1000,
    "amount": {"buffer": (1234).to_bytes(2, "big", signed=True).hex()},
    "fixed_amount": {"buffer": (-10000).to_bytes(8, "big", signed=True).hex()},
}

TYPED_CHECK = """
import type { Color, EveryType, EveryTypeInput } from "./types";
import { ColorSymbols } from "./types";

declare const decoded: EveryType;
export const asInput: EveryTypeInput = decoded;
export const minimal: EveryTypeInput = {
  nothing: null, small: 1, big: 2, ratio: 0.5, precise: 1, blob: Buffer.alloc(0), text: "",
  color: "RED", digest: Buffer.alloc(16), children: [{ label: "a" }], counts: {},
  nested_map: { k: [1, null] }, choice: ["RED", "BLUE"], created_at: 0, created_us: 0, day: 0,
  clock: 0, id: "x", amount: Buffer.alloc(1), fixed_amount: Buffer.alloc(8),
};
export const colors: Color[] = [...ColorSymbols];
// @ts-expect-error not a symbol of Color
export const purple: Color = "PURPLE";
// @ts-expect-error fields without a default are required on the writer type
export const missing: EveryTypeInput = { ...minimal, text: undefined };
"""

DESCRIBE_JS = """
const fs = require("fs");
const avsc = require("avsc");
const { fingerprintOf } = require(process.argv[1]);
const type = avsc.Type.forSchema(JSON.parse(fs.readFileSync(process.argv[2], "utf8")),
                                 { wrapUnions: false });
const data = Buffer.from(process.argv[3], "hex");
const value = type.fromBuffer(data.subarray(10));
const show = (v) => Buffer.isBuffer(v) ? { buffer: v.toString("hex") }
  : Array.isArray(v) ? v.map(show)
  : v !== null && typeof v === "object"
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)])) : v;
process.stdout.write(JSON.stringify({
  fingerprint: fingerprintOf(type), value: show(value),
  same_bytes: type.toBuffer(value).equals(data.subarray(10)),
}));
"""


def test_every_avro_type_compiles_and_matches_what_avsc_decodes(
    node_build: Path, tmp_path: Path
) -> None:
    (tmp_path / "types.ts").write_text(compile_types([SchemaFile.parse("EveryType", EVERY_TYPE)]))
    (tmp_path / "check.ts").write_text(TYPED_CHECK)
    tsc = CODEGEN / "node_modules" / "typescript" / "bin" / "tsc"
    options = ["--strict", "--noEmit", "--target", "ES2022", "--module", "commonjs"]
    types = ["--types", "node", "--typeRoots", str(CODEGEN / "node_modules" / "@types")]
    checked = subprocess.run(
        [_node(), str(tsc), *options, *types, str(tmp_path / "check.ts")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    (tmp_path / "schema.avsc").write_text(json.dumps(EVERY_TYPE))
    message = AvroCodec(SchemaCatalog([EVERY_TYPE])).encode("EveryType", EVERY_VALUE)
    described = subprocess.run(
        [_node(), "-e", DESCRIBE_JS, str(node_build / "runtime" / "avro.js"),
         str(tmp_path / "schema.avsc"), message.hex()],
        capture_output=True, text=True, check=False, timeout=60, env=node_env(),
    )  # fmt: skip
    assert described.returncode == 0, described.stderr
    result = json.loads(described.stdout)
    assert result["fingerprint"] == message[2:10].hex()
    assert result["value"] == EVERY_DECODED
    assert result["same_bytes"] is True


async def test_the_typescript_client_reads_the_served_openapi_document(node_build: Path) -> None:
    port = free_port()
    app = faust.App(
        "contracts-http", web_host="127.0.0.1", web_bind="127.0.0.1", web_port=port,
        autodiscover=False,
    )  # fmt: skip
    openapi_views.mount(app, "camguard")
    await app.web.start()
    try:
        node = await asyncio.create_subprocess_exec(
            "node", str(node_build / "tests" / "http_client.js"),
            "--base-url", f"http://127.0.0.1:{port}",
            env=node_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(node.communicate(), timeout=60)
    finally:
        await app.web.stop()
    assert node.returncode == 0, stderr.decode()
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    # The same document `make codegen` commits (whether it is stale is `--check`'s business).
    expected = export_service_contracts(None, "camguard", service_version())["schema"]
    assert result["document"] == expected
    assert result["refused"] == {"status": 404, "operationId": "getPolicies"}


def test_generated_contracts_are_up_to_date() -> None:
    _node()
    stale = stale_outputs(build_outputs())
    assert stale == [], f"codegen/generated is stale, run `make codegen` and commit: {stale}"
