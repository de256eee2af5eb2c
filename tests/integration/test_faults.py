"""Fault injection on the real stack, accounted frame by frame (see tests/integration/faults.py).

- one camera's frames make onnxruntime itself fail (a real session on a tiny real ONNX graph
  that raises onnxruntime's own ``RuntimeException`` on that camera's frame size) while another
  camera floods garbage: the failing camera's frames come out fail-closed (whole frame blurred,
  marked), every garbage message is dead-lettered with a reason, the healthy camera's frames
  come out normally, each exactly once;
- under ``exactly_once``, with frames and events flowing, the worker is SIGKILLed mid-stream
  (a second worker takes over) or the broker is stopped for 15 s and restarted (the same
  worker carries on): every frame comes out exactly once, every event camera's count equals
  what was produced.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from streams.anonymize.blur import laplacian_variance
from streams.app import EVENTS, FRAMES
from streams.devstack import LocalKafka, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.integration.faults import (
    CODEC,
    FrameId,
    OutputReader,
    camera_event,
    camera_ids,
    frame,
    input_copies,
    jpeg,
    produce_frames,
    start_frames_worker,
    stop,
    until_all_out,
)
from tests.integration.worker_process import Worker, counters, local_cameras, worker_env
from tests.support.waiting import eventually
from tests.unit.anonymize.failing_model import BAD_FRAME

pytestmark = [
    pytest.mark.integration,
    pytest.mark.faust_edge,
    pytest.mark.models,
    pytest.mark.timeout(600),
]

GOOD_SIZE = (720, 1280)  # the failing graph's canvas at max_side 640: inference succeeds

FAILING_WORKER = """
import faust
from agents.frames import install
from streams.anonymize.detector import CENTERFACE, OnnxDetector
from streams.anonymize.middleware import AnonymizationMiddleware
from streams.anonymize.pipeline import Anonymizer
from streams.app import build_app
from streams.settings import Settings
from tests.unit.anonymize.failing_model import failing_session

settings = Settings()
cg = build_app(settings)
core = Anonymizer({"FACE": OnnxDetector(failing_session(), CENTERFACE, max_side=640)})
install(cg, middleware=AnonymizationMiddleware(core, settings))
faust.Worker(cg.app, loglevel="info", redirect_stdouts=False).execute_from_commandline()
"""


def garbage(camera_id: str, n: int, seed: int) -> list[bytes]:
    """Random bytes, truncated Avro, frames whose JPEG is cut, frames of another camera."""
    rng = random.Random(seed)
    whole = frame(camera_id, 1, 240, 320)
    out: list[bytes] = []
    for i in range(n):
        match i % 4:
            case 0:
                out.append(rng.randbytes(rng.randint(0, 400)))
            case 1:
                out.append(whole[: rng.randint(1, len(whole) - 1)])
            case 2:
                cut = jpeg(240, 320, i)[: rng.randint(10, 2000)]
                out.append(
                    CODEC.encode(
                        "Frame",
                        {
                            "camera_id": camera_id,
                            "org_id": None,
                            "site_id": None,
                            "captured_at": 1,
                            "seq": i,
                            "encoding": "JPEG",
                            "width": 320,
                            "height": 240,
                            "data": cut,
                        },
                    )
                )
            case _:
                out.append(frame(f"{camera_id}-other", i, 120, 160))  # key is not camera_id
    return out


async def test_one_cameras_failing_inference_and_anothers_garbage_leave_the_rest_alone(
    kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    healthy, failing, flooding = camera_ids("ort", 3)
    settings = Settings(broker=f"kafka://{kafka_bootstrap}")
    await ensure_topics(settings)
    env = {
        **os.environ,
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_APP_ID": f"fault-ort-{uuid.uuid4().hex[:8]}",
        "CAMGUARD_STORE": "memory://",
        "CAMGUARD_MODELS_DIR": str(models_dir),
        "CAMGUARD_DATA_DIR": str(tmp_path / "data"),
        "CAMGUARD_WORKER_POOL_SIZE": "1",
        "CAMGUARD_LICENSE_PLATE_BLUR_ENABLED": "false",  # the failing graph is the only model
        # every failure counts in the camera's breaker; a threshold out of reach keeps it
        # closed so each frame's fate is its own (shedding is tested in test_policy_to_breaker)
        "CAMGUARD_BREAKER_FAILURE_THRESHOLD": "1000000",
    }
    reader = OutputReader(kafka_bootstrap, [healthy, failing, flooding])
    await reader.start()
    log = tmp_path / "worker.log"
    proc = start_frames_worker(env, log, FAILING_WORKER)
    rounds, junk = 12, garbage(flooding, 400, seed=7)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for seq in range(rounds):  # interleaved: the flood shares batches with real frames
            await producer.send(FRAMES, frame(healthy, seq, *GOOD_SIZE), key=healthy.encode())
            await producer.send(FRAMES, frame(failing, seq, *BAD_FRAME), key=failing.encode())
            for value in junk[seq::rounds]:
                await producer.send(FRAMES, value, key=flooding.encode())
        await producer.flush()

        async def everything_out() -> bool | None:
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            out = await reader.poll()
            done = len(out.anonymized) >= 2 * rounds and len(out.dead) >= len(junk)
            return True if done else None

        try:
            await eventually(everything_out, 300, "every frame and every dead letter")
        except AssertionError:
            print(log.read_text(errors="replace")[-4000:])
            raise
        await asyncio.sleep(2)  # anything published twice would arrive by now
        out = await reader.poll()
    finally:
        await producer.stop()
        await reader.stop()
        stop(proc)

    want: Counter[FrameId] = Counter({(c, s): 1 for c in (healthy, failing) for s in range(rounds)})
    assert out.ids() == want, "each frame of the two cameras exactly once"
    assert out.dead_by_key() == Counter({flooding: len(junk)}), "every garbage message, once"
    reasons = Counter(letter["reason"] for letter in out.dead)
    quarter = len(junk) // 4  # each kind of garbage, with its own reason
    assert reasons == {
        r: quarter for r in ("not_avro", "truncated", "corrupt_image", "key_mismatch")
    }
    for record in out.anonymized:
        if record["camera_id"] == healthy:
            assert record["fail_closed"] is False
        else:  # onnxruntime raised for this camera's frame size: the whole frame is blurred
            assert record["fail_closed"] is True
            assert record["protection"]["fail_closed_reason"] == "detection_failed"
            image = cv2.imdecode(np.frombuffer(record["data"], np.uint8), cv2.IMREAD_COLOR)
            original = cv2.imdecode(
                np.frombuffer(jpeg(*BAD_FRAME, record["seq"]), np.uint8), cv2.IMREAD_COLOR
            )
            assert laplacian_variance(image) < laplacian_variance(original) / 20
    assert "Traceback" not in log.read_text(errors="replace"), "no agent crashed"


OUTAGE_S = 15.0


async def inject(broker: LocalKafka | None, worker: Worker) -> None:
    """SIGKILL the worker (no broker of our own), else stop the broker for OUTAGE_S."""
    if broker is None:
        worker.kill()  # mid-stream: frames of an open transaction are in flight
    else:  # the worker stays up through the outage and carries on
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(OUTAGE_S)
        await asyncio.to_thread(broker.start, True)


# sigkill failed 6 times in 35 runs until 2026-12-02: the frames' outputs went out through
# Faust's plain producer, outside every transaction (streams/faust_edge/transactions.py), and a
# commit could fall inside a batch (streams/commit_gate.py). 9 runs in a row pass since.
@pytest.mark.parametrize("fault", ["sigkill", "broker_restart"])
async def test_exactly_once_frames_and_events_through_a_fault_lose_and_repeat_nothing(
    fault: str, kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    broker: LocalKafka | None = None
    if fault == "broker_restart":  # a broker of its own: the session's stays up for the others
        broker = LocalKafka(port=free_port(), run_dir=tmp_path / "kafka")
        await asyncio.to_thread(broker.start)
    bootstrap = kafka_bootstrap if broker is None else broker.bootstrap
    frame_cameras, event_cameras = camera_ids(f"{fault}-frames", 3), camera_ids(fault, 10)
    app_id = f"fault-{fault}-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        bootstrap,
        app_id=app_id,
        processing_guarantee="exactly_once",
        store="memory://",
        models_dir=str(models_dir),
        worker_pool_size="1",
        broker_commit_interval_s="0.5",
    )
    env.pop("CAMGUARD_PG_DSN", None)
    env.pop("CAMGUARD_SUPABASE_URL", None)
    settings = Settings(broker=f"kafka://{bootstrap}", app_id=app_id)
    await ensure_topics(settings)
    await ensure_changelog_topics(settings)
    reader = OutputReader(bootstrap, frame_cameras)
    await reader.start()
    rounds = 30
    produced_events: Counter[str] = Counter()
    events = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await events.start()

    async def send_events(n: int) -> None:
        for _ in range(n):
            for camera in event_cameras:
                await events.send(EVENTS, value=camera_event(camera), key=camera.encode())
                produced_events[camera] += 1
        await events.flush()

    workers: list[Worker] = []
    try:
        await send_events(20)
        produced = await produce_frames(bootstrap, frame_cameras, range(rounds), (240, 320))
        first = Worker(env, tmp_path / "w1", tmp_path / "w1.log", loglevel="info")
        workers.append(first)

        async def some_out() -> bool | None:
            assert first.proc.poll() is None, first.tail()
            return True if len((await reader.poll()).anonymized) >= 10 else None

        await eventually(some_out, 240, "the first worker to publish some frames")
        async with httpx.AsyncClient(timeout=5) as client:
            before_fault = await counters(client, first)
        await inject(broker, first)
        await send_events(20)
        produced |= await produce_frames(
            bootstrap, frame_cameras, range(rounds, 2 * rounds), (240, 320)
        )
        if broker is None:
            workers.append(Worker(env, tmp_path / "w2", tmp_path / "w2.log", loglevel="info"))
        active = workers[-1]

        await until_all_out(reader, produced, active, app_id, 300, f"every frame after the {fault}")
        async with httpx.AsyncClient(timeout=5) as client:

            async def events_counted() -> dict[str, int] | None:
                cams = await local_cameras(client, active, f"fault-{fault}-")
                got = {k: v["events"] for k, v in cams.items() if k in produced_events}
                return got if got == dict(produced_events) else None

            await eventually(events_counted, 120, "every event camera's exact count")
        await asyncio.sleep(2)
        out = await reader.poll()
        async with httpx.AsyncClient(timeout=5) as client:
            found = await counters(client, active)
    except AssertionError:
        print(workers[-1].tail() if workers else "no worker started")
        raise
    finally:
        await events.stop()
        await reader.stop()
        for worker in workers:
            worker.stop()
        if broker is not None:
            await asyncio.to_thread(broker.stop)

    twice = {k: out.where[k] for k, n in out.ids().items() if n > 1}
    frames_counters = {k: v for k, v in found.items() if k.startswith("frames.")}
    sources = await input_copies(bootstrap, set(twice)) if twice and broker is None else {}
    assert out.ids() == Counter(dict.fromkeys(produced, 1)), (
        f"each frame exactly once: {twice}; their copies on the input topic {sources}; "
        f"last worker's counters {frames_counters}; the first worker's before the fault "
        f"{ {k: v for k, v in before_fault.items() if k.startswith('frames.')} }"
    )
    assert not out.dead
