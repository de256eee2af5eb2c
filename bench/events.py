"""Events throughput, like for like: the events agent against aiokafka applications doing its work.

One broker, the same ``camera.events`` messages (Avro ``CameraEvent``, 4 partitions), read from
the earliest offset by each contender in turn; rounds alternate the order (peer, camguard,
camguard, peer, ...) so that noise from other jobs hits both sides alike. Datasets: 100 and
10 000 cameras, 1 % and 20 % failure events (``FRAME_ERROR`` drawn at random, seed 15; the
rest ``FRAME_OK``), each under ``at_least_once`` and ``exactly_once``.

The same work on every side, per message: decode the Avro record (camguard's compiled reader,
``AvroCodec.plain_decoder``: the same decoder on both sides), check key and timestamp, fold it
into the camera's breaker (``step``, runs of successes while closed folded at once with
``successes_while_closed``) and health (``observe_many``, once per camera per batch), skip
offsets the camera's rows already hold; per batch, write each touched camera's two rows
(breaker and health as JSON with the source offsets, keyed by camera, to the message's
partition of a compacted topic), publish breaker transitions (Avro ``BreakerTransition``),
and commit the consumed offsets with the guarantee's semantics every 2.8 s (camguard's
``broker_commit_interval_s``):

- ``at_least_once``: the rows are acknowledged by the broker before the offsets are committed;
- ``exactly_once``: a transactional producer; rows, transitions and the consumed offsets
  (``send_offsets_to_transaction``) are committed in one transaction (``read_committed``).

Contenders:

- camguard: a ``camguard worker`` subprocess (``CAMGUARD_PROCESSING_GUARANTEE``): its events
  lane in Faust's consumer (fetches of up to 8 000 records, ``events_batch_max``), the rows
  in RocksDB-backed Faust tables and their changelogs; events/s read from ``/readyz``, the
  window opens once its anonymizer has loaded its models;
- peer ``getmany``: aiokafka's batch API, ``getmany(max_records=8000, timeout_ms=100)``, each
  returned batch folded and its rows sent (its fastest documented read path); state in a dict;
- peer ``async for``: aiokafka's per-message iterator, the rows written every 8 000 messages
  (the same batch size) and after the last one.

Both peers run in this process with aiokafka's defaults otherwise (fetch sizes, linger 0,
``acks=all`` with idempotence for the transactional producer as aiokafka requires); peers keep
state in memory (no RocksDB), camguard additionally writes its local store. Rates run from the
first message seen to the last one folded. Context, not like for like: the bare loops (no
work at all).

    .venv/bin/python bench/events.py [--events 400000] [--rounds 2] [--events-many 100000]
        [--rounds-many 1] [--datasets 100:0.01 ...] [--guarantees ...] [--quick]

With 10 000 cameras most events are a camera's only one in its batch, so both sides write two
rows per event: those datasets are smaller (``--events-many``) and run one round by default
(camguard, then the peers) to keep ``make bench`` short.

Without ``--bootstrap`` a throwaway broker is started (infra/kafka, a free port). With one,
``camera.events`` is deleted and recreated for each dataset: never point it at a real cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, LocalKafka, free_port
from streams.resilience.breaker import (
    BreakerState,
    State,
    Transition,
    step,
    successes_while_closed,
)
from streams.resilience.camera import (
    CameraConfig,
    breaker_event,
    observation_from_record,
    replay_window,
    transition_record,
)
from streams.resilience.changelogs import ensure_changelog_topics
from streams.resilience.health import SUCCESSES, HealthState, Observation, observe_many
from streams.resilience.serde import breaker_to_dict, health_to_dict
from streams.settings import Settings
from streams.topics import ensure_topics

TOPIC = "camera.events"
CLOSED = State.CLOSED  # a module constant, as in the agent: enum attribute lookups cost ~50 ns
PEER_TOPICS = ("bench.peer.breakers", "bench.peer.health", "bench.peer.transitions")
BATCH = 8000
COMMIT_INTERVAL_S = Settings().broker_commit_interval_s
GUARANTEES = ("at_least_once", "exactly_once")
LOGLEVEL = "info"
"""camguard's default. At ``warning`` or above Faust's console spinner sets the root logger to
DEBUG for good (every debug call in aiokafka and Faust then builds a LogRecord)."""
PEER_CONFIG = {
    "getmany": "aiokafka getmany(max_records=8000), same fold, rows per batch",
    "async for": "aiokafka async for, same fold, rows per 8000 messages",
}
OURS_CONFIG = "camguard worker events lane, Faust tables (RocksDB)"


@dataclass(frozen=True)
class Dataset:
    cameras: int
    failure_rate: float

    @property
    def label(self) -> str:
        cameras = f"{self.cameras:,}".replace(",", " ")
        return f"{cameras} cameras, {self.failure_rate:.0%} failures"


# --- the input --------------------------------------------------------------------------------


async def recreate_topic(bootstrap: str) -> None:
    """Delete ``camera.events`` (if there) and create it again, empty."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if TOPIC in await admin.list_topics():
            await admin.delete_topics([TOPIC])
            for _ in range(200):
                if TOPIC not in await admin.list_topics():
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for _ in range(50):
        try:
            await ensure_topics(Settings(broker=f"kafka://{bootstrap}"))
            await asyncio.sleep(2)  # leaders elected: no NotLeaderForPartition retries
            return
        except Exception:  # the deletion may still be in progress on the broker
            await asyncio.sleep(0.2)
    raise RuntimeError(f"could not recreate {TOPIC}")


async def produce(bootstrap: str, events: int, data: Dataset) -> None:
    codec = AvroCodec()
    rng = random.Random(15)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        now = int(time.time() * 1000)
        for i in range(events):
            camera_id = f"bench-cam-{i % data.cameras}"
            kind = "FRAME_ERROR" if rng.random() < data.failure_rate else "FRAME_OK"
            record = {
                "event_id": str(uuid.uuid4()),
                "camera_id": camera_id,
                "occurred_at": now + i // data.cameras,
                "kind": kind,
                "latency_ms": 5.0 + i % 40,
                "attributes": {},
            }
            value = codec.encode("CameraEvent", record)
            await producer.send(TOPIC, value=value, key=camera_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def create_peer_topics(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=4,
                replication_factor=1,
                topic_configs={"cleanup.policy": "delete" if "transitions" in name else "compact"},
            )
            for name in PEER_TOPICS
            if name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()


# --- the peers: aiokafka applications doing the events agent's work ---------------------------


class _Camera:
    """A camera's state in the peer (the rows it would hold) and what a batch did to it."""

    __slots__ = ("breaker", "health", "last", "offsets", "replays", "seen", "successes")

    def __init__(self, camera_id: str) -> None:
        self.breaker = BreakerState()
        self.health = HealthState(camera_id)
        self.offsets: dict[str, int] = {}
        self.seen: list[tuple[Observation, State]] = []
        self.last: Any = None
        self.successes = 0
        self.replays = (0, -1)
        """Offsets of the topic the rows already hold, as (low, high): set once per batch."""

    def settled(self, config: CameraConfig) -> BreakerState:
        """The breaker with the deferred successes folded in."""
        if self.successes:
            self.breaker = successes_while_closed(self.breaker, self.successes, config.breaker)
            self.successes = 0
        return self.breaker


class PeerFold:
    """The events agent's fold, on plain aiokafka records, with state in a dict."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.decode = AvroCodec().plain_decoder("CameraEvent")
        self.codec = AvroCodec()
        self.config = CameraConfig.from_settings(Settings())
        self.rng = random.Random()
        self.cameras: dict[str, _Camera] = {}
        self.folded = 0

    async def batch(self, messages: Sequence[Any]) -> list[asyncio.Future[Any]]:
        """Fold ``messages``; send the rows and transitions; return the send futures."""
        touched, moves = self.fold(messages, time.time())
        return await self.send(touched, moves)

    def fold(
        self, messages: Sequence[Any], now: float
    ) -> tuple[dict[str, _Camera], list[tuple[str, tuple[Transition, ...]]]]:
        """The agent's per-message loop: decode, check, step the breaker, collect for health."""
        config, cameras, decode = self.config, self.cameras, self.decode
        fast = config.breaker.slow_call_threshold_ms is None
        touched: dict[str, _Camera] = {}
        moves: list[tuple[str, tuple[Transition, ...]]] = []
        for message in messages:
            record = decode(message.value)
            camera_id: str = record["camera_id"]
            if message.key != camera_id.encode():
                raise ValueError("key_mismatch")  # the agent dead-letters it; none here
            obs = observation_from_record(record, now, config.max_skew_s)
            camera = touched.get(camera_id)
            if camera is None:
                camera = cameras.get(camera_id)
                if camera is None:
                    camera = cameras[camera_id] = _Camera(camera_id)
                touched[camera_id] = camera
                camera.replays = replay_window(camera.offsets, message.topic)
            low, high = camera.replays
            if low <= message.offset <= high:
                continue
            breaker = camera.breaker
            if obs.kind in SUCCESSES and fast and breaker.state is CLOSED:
                camera.successes += 1
            else:
                event = breaker_event(obs, record["error"])
                if event is not None:
                    settled = camera.settled(config)
                    breaker, moved = step(settled, event, now, config.breaker, self.rng)
                    camera.breaker = breaker
                    if moved:
                        moves.append((camera_id, moved))
            camera.seen.append((obs, breaker.state))
            camera.last = message
            self.folded += 1
        return touched, moves

    async def send(
        self, touched: dict[str, _Camera], moves: list[tuple[str, tuple[Transition, ...]]]
    ) -> list[asyncio.Future[Any]]:
        """Each touched camera's two rows (health folded once), then the transitions."""
        config = self.config
        sends: list[asyncio.Future[Any]] = []
        breakers, healths, transitions = PEER_TOPICS
        for camera_id, camera in touched.items():
            if camera.last is None:
                continue
            camera.settled(config)
            camera.health = observe_many(camera.health, camera.seen, config.health)
            camera.seen = []
            camera.offsets = {**camera.offsets, camera.last.topic: camera.last.offset}
            key, partition = camera_id.encode(), camera.last.partition
            breaker_row = {**breaker_to_dict(camera.breaker), "offsets": camera.offsets}
            health_row = {**health_to_dict(camera.health), "offsets": camera.offsets}
            for topic, row in ((breakers, breaker_row), (healths, health_row)):
                value = json.dumps(row).encode()
                sends.append(await self.producer.send(topic, value, key, partition=partition))
            camera.last = None
        for camera_id, moved in moves:
            for move in moved:
                value = self.codec.encode("BreakerTransition", transition_record(camera_id, move))
                sends.append(await self.producer.send(transitions, value, camera_id.encode()))
        return sends


class PeerCommitter:
    """Offsets committed every ``COMMIT_INTERVAL_S`` with the guarantee's semantics."""

    def __init__(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, group: str, eos: bool
    ) -> None:
        self.consumer, self.producer, self.group, self.eos = consumer, producer, group, eos
        self.positions: dict[int, int] = {}
        """Next offset to commit, by partition of ``camera.events``."""
        self.pending: list[asyncio.Future[Any]] = []
        self.last_commit = time.monotonic()
        self.in_transaction = False

    async def begin(self) -> None:
        if self.eos and not self.in_transaction:
            await self.producer.begin_transaction()
            self.in_transaction = True

    def consumed(self, messages: Sequence[Any], sends: list[asyncio.Future[Any]]) -> None:
        positions = self.positions
        for message in messages:
            positions[message.partition] = message.offset + 1
        self.pending.extend(sends)

    def offsets(self) -> dict[TopicPartition, int]:
        return {TopicPartition(TOPIC, p): offset for p, offset in self.positions.items()}

    async def maybe_commit(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last_commit < COMMIT_INTERVAL_S:
            return
        if self.eos:
            if self.in_transaction:
                await self.producer.send_offsets_to_transaction(self.offsets(), self.group)
                await self.producer.commit_transaction()
                self.in_transaction = False
        else:
            await asyncio.gather(*self.pending)  # rows acknowledged before the offsets
            if self.positions:
                await self.consumer.commit(self.offsets())
        self.pending.clear()
        self.last_commit = time.monotonic()


async def peer_rate(bootstrap: str, events: int, mode: str, guarantee: str) -> float:
    """Events per second of an aiokafka application doing the events agent's work."""
    eos = guarantee == "exactly_once"
    group = f"bench-peer-{uuid.uuid4().hex[:6]}"
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed" if eos else "read_uncommitted",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        transactional_id=f"{group}-tx" if eos else None,
        enable_idempotence=eos,
    )
    await producer.start()
    await consumer.start()
    fold = PeerFold(producer)
    committer = PeerCommitter(consumer, producer, group, eos)
    first = 0.0

    async def handle(batch: Sequence[Any]) -> None:
        nonlocal first
        if not first:
            first = time.perf_counter()
        await committer.begin()
        committer.consumed(batch, await fold.batch(batch))
        await committer.maybe_commit()

    try:
        if mode == "getmany":
            while fold.folded < events:
                fetched = await consumer.getmany(timeout_ms=100, max_records=BATCH)
                for records in fetched.values():
                    await handle(records)
        else:
            pending: list[Any] = []
            seen = 0
            async for message in consumer:
                pending.append(message)
                seen += 1
                if len(pending) >= BATCH or seen >= events:
                    await handle(pending)
                    pending = []
                if seen >= events:
                    break
        rate = fold.folded / (time.perf_counter() - first)
        await committer.maybe_commit(force=True)
        assert fold.folded == events, f"peer folded {fold.folded} of {events}"
        return rate
    finally:
        if committer.in_transaction:
            await producer.abort_transaction()
        await consumer.stop()
        await producer.stop()


async def bare_rate(bootstrap: str, events: int, mode: str) -> float:
    """Context: messages per second read with no work at all."""
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
        if mode == "getmany":
            while seen < events:
                for records in (await consumer.getmany(timeout_ms=100, max_records=BATCH)).values():
                    first = first or time.perf_counter()
                    seen += len(records)
        else:
            async for _message in consumer:
                first = first or time.perf_counter()
                seen += 1
                if seen >= events:
                    break
        return seen / (time.perf_counter() - first)
    finally:
        await consumer.stop()


# --- camguard: a worker subprocess -------------------------------------------------------------


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


def start_worker(
    bootstrap: str, port: int, work: Path, app_id: str, guarantee: str
) -> subprocess.Popen[bytes]:
    """A ``camguard worker`` subprocess on a fresh app id (reads the topic from the start)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CAMGUARD_BROKER": f"kafka://{bootstrap}",
        "CAMGUARD_APP_ID": app_id,
        "CAMGUARD_PROCESSING_GUARANTEE": guarantee,
        "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "5",
        # The frames agent calibrates its ONNX batch size at start (inference at batch sizes
        # 1..8, ~3 s of both cores here); with 1 it only loads the models. The rate is taken
        # once the anonymizer is ready either way (see _measure).
        "CAMGUARD_BATCH_MAX_FRAMES": "1",
    }
    argv = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(port)]
    argv += ["--data-dir", str(work / app_id), "-l", LOGLEVEL]
    with (work / f"{app_id}.log").open("wb") as log:
        return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)


async def camguard_rate(bootstrap: str, events: int, work: Path, guarantee: str) -> float:
    """Events per second through the events agent of a worker subprocess."""
    port = free_port()
    app_id = f"bench-{uuid.uuid4().hex[:6]}"
    await ensure_changelog_topics(Settings(broker=f"kafka://{bootstrap}", app_id=app_id))
    worker = start_worker(bootstrap, port, work, app_id, guarantee)
    try:
        return await _measure(f"http://127.0.0.1:{port}", events, worker, work / f"{app_id}.log")
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 60)


async def _anonymizer_ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        body = (await client.get(f"{url}/api/anonymizer")).json()
    except (httpx.TransportError, ValueError):
        return False
    return bool(body.get("detector"))


async def _measure(url: str, events: int, worker: subprocess.Popen[bytes], log: Path) -> float:
    """Events/s from the first count seen after start-up and model loading to the last.

    The window opens only once ``/api/anonymizer`` reports its detectors: loading them runs
    ONNX Runtime on the same cores and is not part of the events path.
    """
    async with httpx.AsyncClient(timeout=5) as client:
        deadline = time.monotonic() + 300
        start_count, started, ready = 0, 0.0, False
        while True:
            assert worker.poll() is None, f"worker exited; see {log}"
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


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Row:
    data: Dataset
    guarantee: str
    rates: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.rates[name])


async def measure_row(
    bootstrap: str, events: int, work: Path, data: Dataset, guarantee: str, rounds: int
) -> Row:
    runs: dict[str, Callable[[], Awaitable[float]]] = {
        "getmany": lambda: peer_rate(bootstrap, events, "getmany", guarantee),
        "camguard": lambda: camguard_rate(bootstrap, events, work, guarantee),
        "async for": lambda: peer_rate(bootstrap, events, "async for", guarantee),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in order:
            rates[name].append(await runs[name]())
    row = Row(data, guarantee, rates)
    print(
        f"{data.label:<28} {guarantee:<13} {row.median('camguard'):>9,.0f} "
        f"{row.median('getmany'):>9,.0f} {row.median('async for'):>9,.0f} "
        f"{row.median('camguard') / row.median('getmany'):>7.2f} "
        f"{row.median('camguard') / row.median('async for'):>7.2f}",
        flush=True,
    )
    return row


GOALS = {"at_least_once": 0.5, "exactly_once": 0.25}


def like_for_like(row: Row) -> str:
    ours, peer = row.median("camguard"), row.median("getmany")
    ratio = ours / peer
    if row.data.cameras == 100:
        goal = GOALS[row.guarantee]
        verdict = f">= {goal}: {'met' if ratio >= goal else 'NOT met'}"
    else:
        verdict = "stated (no goal)"
    guarantee = "ALO" if row.guarantee == "at_least_once" else "EOS"
    return (
        f"LFL| events {row.data.label}, {guarantee}, events/s (median) | {ours:,.0f} "
        f"| {OURS_CONFIG}, {row.guarantee} | {peer:,.0f} | {PEER_CONFIG['getmany']}, "
        f"{row.guarantee} (async for: {row.median('async for'):,.0f}) | {ratio:.2f}x | {verdict} |"
    )


async def run(args: argparse.Namespace, work: Path) -> None:
    bootstrap = args.bootstrap
    broker = None
    if bootstrap is None:
        broker = LocalKafka(port=free_port(), run_dir=work / "kafka")
        broker.start()
        bootstrap = broker.bootstrap
    rows: list[Row] = []
    context: dict[str, float] = {}
    try:
        await create_peer_topics(bootstrap)
        print(
            f"events per dataset: {args.events} (100 cameras), {args.events_many} (10 000); "
            f"rounds: {args.rounds} ({args.rounds_many} with 10 000 cameras); broker {bootstrap}"
        )
        print(f"camguard : {OURS_CONFIG}")
        for config in PEER_CONFIG.values():
            print(f"peer     : {config}")
        print(
            f"{'events/s, median':<28} {'guarantee':<13} {'camguard':>9} {'getmany':>9} "
            f"{'async for':>9} {'/getm.':>7} {'/asyncf':>7}",
            flush=True,
        )
        for data in args.datasets:
            await recreate_topic(bootstrap)
            many = data.cameras > 1000
            events = args.events_many if many else args.events
            rounds = args.rounds_many if many else args.rounds
            await produce(bootstrap, events, data)
            if not context:
                for mode in ("async for", "getmany"):
                    context[mode] = await bare_rate(bootstrap, events, mode)
            for guarantee in args.guarantees:
                rows.append(await measure_row(bootstrap, events, work, data, guarantee, rounds))
    finally:
        if broker is not None:
            broker.stop()
    for mode, rate in context.items():
        print(f"context, bare aiokafka {mode} (no work): {rate:,.0f} msg/s")
    for row in rows:
        print(like_for_like(row))


def parse_dataset(text: str) -> Dataset:
    cameras, rate = text.split(":")
    return Dataset(int(cameras), float(rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--events-many",
        type=int,
        default=100_000,
        help="events per dataset with over 1 000 cameras (rows are written per event there)",
    )
    parser.add_argument("--rounds-many", type=int, default=1)
    parser.add_argument(
        "--datasets",
        type=parse_dataset,
        nargs="+",
        default=[Dataset(c, r) for c in (100, 10_000) for r in (0.01, 0.2)],
        help="cameras:failure_rate, e.g. 100:0.01 10000:0.2",
    )
    parser.add_argument("--guarantees", nargs="+", choices=GUARANTEES, default=list(GUARANTEES))
    parser.add_argument(
        "--quick", action="store_true", help="200 000 / 50 000 events, 1 round, at_least_once"
    )
    parser.add_argument("--bootstrap", default=None, help="host:port of a broker for benches")
    args = parser.parse_args()
    if args.quick:
        args.events, args.events_many, args.rounds = 200_000, 50_000, 1
        args.guarantees = ["at_least_once"]
    with tempfile.TemporaryDirectory(prefix="camguard-bench-events-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
