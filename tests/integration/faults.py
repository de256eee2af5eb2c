"""Shared pieces of the fault-injection tests: frames to produce, the output to account for.

Every fault test accounts by frame id, ``(camera_id, seq)``: each produced frame must come out
exactly once on ``camera.frames.anonymized`` (read with ``read_committed``, so an aborted
transaction's records do not count) or on ``camguard.deadletter``, whatever was done to the
stack meanwhile.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.app import ANONYMIZED, DEADLETTER, FRAMES
from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, free_port
from streams.policy.topic import read_topic
from tests.integration.worker_process import Worker, counters, partitions_of
from tests.support.waiting import eventually

CODEC = AvroCodec()
FrameId = tuple[str, int]


def jpeg(height: int, width: int, seed: int) -> bytes:
    """A smooth picture with some texture (a few tens of KiB), different per ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = ((x + y + seed * 7) % 256).astype(np.uint8)
    noise = rng.integers(0, 40, (height, width), dtype=np.uint8)
    image = np.dstack([base, base // 2 + noise, 255 - base])
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1])


def frame(camera_id: str, seq: int, height: int, width: int) -> bytes:
    return CODEC.encode(
        "Frame",
        {
            "camera_id": camera_id,
            "org_id": None,
            "site_id": None,
            "captured_at": 1_700_000_000_000 + seq,
            "seq": seq,
            "encoding": "JPEG",
            "width": width,
            "height": height,
            "data": jpeg(height, width, seq),
        },
    )


def camera_event(camera_id: str, kind: str = "FRAME_OK") -> bytes:
    return CODEC.encode(
        "CameraEvent",
        {
            "event_id": str(uuid.uuid4()),
            "camera_id": camera_id,
            "occurred_at": int(time.time() * 1000),
            "kind": kind,
            "latency_ms": 2.0,
            "attributes": {},
        },
    )


def camera_ids(label: str, n: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"fault-{label}-{run}-{i}" for i in range(n)]


async def produce_frames(
    bootstrap: str, cameras: Iterable[str], seqs: Iterable[int], size: tuple[int, int]
) -> set[FrameId]:
    """Produce one frame per camera per seq (idempotent producer); the ids produced."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    produced: set[FrameId] = set()
    try:
        for seq in seqs:
            for camera in cameras:
                value = frame(camera, seq, *size)
                await producer.send(FRAMES, value=value, key=camera.encode())
                produced.add((camera, seq))
        await producer.flush()
    finally:
        await producer.stop()
    return produced


@dataclass
class Output:
    """What came out for the cameras of one test, read with ``read_committed``."""

    anonymized: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    where: defaultdict[FrameId, list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (partition, offset) of each copy on the output topic: what a failure message shows

    def ids(self) -> Counter[FrameId]:
        return Counter((r["camera_id"], r["seq"]) for r in self.anonymized)

    def dead_by_key(self) -> Counter[str]:
        return Counter((r["key"] or b"").decode() for r in self.dead)


class OutputReader:
    """Reads ``camera.frames.anonymized`` and the dead letters from where they end now."""

    def __init__(self, bootstrap: str, cameras: Iterable[str]) -> None:
        self.cameras = {c.encode() for c in cameras}
        self.output = Output()
        self.bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
        )

    async def start(self) -> None:
        partitions = await partitions_of(self.bootstrap, [ANONYMIZED, DEADLETTER])
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self) -> Output:
        batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
        for tp, records in batch.items():
            for record in records:
                if record.key not in self.cameras:
                    continue
                if tp.topic == ANONYMIZED:
                    decoded = CODEC.decode_as("AnonymizedFrame", record.value)
                    self.output.where[(decoded["camera_id"], decoded["seq"])].append(
                        (tp.partition, record.offset)
                    )
                    self.output.anonymized.append(decoded)
                else:
                    self.output.dead.append(CODEC.decode_as("DeadLetter", record.value))
        return self.output


WORKER = """
import faust
from agents.frames import install
from streams.app import build_app
from streams.settings import Settings
cg = build_app(Settings())
install(cg)
faust.Worker(cg.app, loglevel="info", redirect_stdouts=False).execute_from_commandline()
"""


def start_frames_worker(
    env: dict[str, str], log: Path, script: str = WORKER
) -> subprocess.Popen[bytes]:
    """A Faust worker running the real frames agent (``script`` composes it)."""
    env = {**env, "CAMGUARD_WEB_PORT": str(free_port()), "PYTHONPATH": str(REPO_ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def diagnose(
    bootstrap: str, group: str, produced: set[FrameId], out: Output, found: dict[str, Any]
) -> str:
    """What a failed accounting looks like from outside: the frames missing per camera, each
    output partition's last stable offset (read_committed end) against its high watermark (a
    gap that stays is a transaction left open), and the group's committed input offsets."""
    lines = []
    missing = sorted(set(produced) - set(out.ids()))
    by_camera: defaultdict[str, list[int]] = defaultdict(list)
    for camera, seq in missing:
        by_camera[camera].append(seq)
    lines.append(f"missing {len(missing)} of {len(produced)}: {dict(by_camera)}")
    inputs = await partitions_of(bootstrap, [FRAMES])
    outputs = await partitions_of(bootstrap, [ANONYMIZED])
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(outputs)
            lines.append(f"{ANONYMIZED} ends ({isolation}): {sorted(ends.items())}")
        finally:
            await consumer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        committed = {tp.partition: await consumer.committed(tp) for tp in inputs}
        ends = await consumer.end_offsets(inputs)
        lines.append(f"{FRAMES} committed by {group}: {committed}")
        lines.append(f"{FRAMES} ends: { {tp.partition: n for tp, n in ends.items()} }")
    finally:
        await consumer.stop()
    lines.append(f"worker counters: { {k: v for k, v in found.items() if 'frame' in k} }")
    return "\n".join(lines)


async def until_all_out(
    reader: OutputReader,
    produced: set[FrameId],
    worker: Worker,
    group: str,
    within: float,
    what: str,
) -> None:
    """Wait until every frame of ``produced`` is out; on timeout print :func:`diagnose`."""

    async def all_out() -> bool | None:
        assert worker.proc.poll() is None, worker.tail()
        return True if set((await reader.poll()).ids()) >= produced else None

    try:
        await eventually(all_out, within, what)
    except AssertionError:
        async with httpx.AsyncClient(timeout=5) as client:
            found = await counters(client, worker)
        print(await diagnose(reader.bootstrap, group, produced, await reader.poll(), found))
        raise


async def input_copies(bootstrap: str, ids: set[FrameId]) -> dict[FrameId, int]:
    """How many times each of ``ids`` was produced to ``camera.frames``: tells a frame
    produced twice from a frame processed twice."""
    messages = await read_topic(bootstrap, FRAMES)
    frames = (CODEC.decode_as("Frame", value or b"") for _, value in messages)
    found = Counter((frame["camera_id"], frame["seq"]) for frame in frames)
    return {i: found[i] for i in ids}
