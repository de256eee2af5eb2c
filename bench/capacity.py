"""Capacity: cameras one worker sustains, found by stepping the load until its consumer lag grows.

Two phases, each on its own throwaway broker (infra/kafka) and one ``camguard worker``
subprocess (one consumer group, all partitions):

- **frames**: cameras at 5 fps 1280x720 (``camguard gateway --source synthetic``, anonymization
  on the CPU, ``--frame-events`` off); each step adds one camera as one more gateway process
  (1, 2, 3, ... cameras), so the load never stops between steps;
- **events**: events-only cameras, ``--events-hz`` (5) ``FRAME_OK`` events per camera per
  second (what ``camguard gateway --frame-events`` sends at 5 fps, without the frames), written
  by this process straight to ``camera.events`` (Avro ``CameraEvent``, keyed by camera, the
  default partitioner; a pool of pre-encoded records per step so that the producer costs
  little), at ``--events-steps`` cameras.

A step runs ``--settle-s`` seconds, then samples the group's consumer lag on the topic (end
offsets minus committed offsets, aiokafka) every 3 s for ``--measure-s`` seconds. It is
sustained when the least-squares rise of the lag over the window stays within
``--tolerance-s`` seconds of the step's input rate (with a 60 s window and 3 s: the worker
keeps at least ~95 % of the input) and the input reached 90 % of its target; the phase stops
at the first step that is not (a step whose input fell short is reported as bound by the load
generator, not the worker). The worker's CPU (cores, from /proc) is reported per step.

    .venv/bin/python bench/capacity.py [--phases frames events] [--frames-max 6]
        [--events-steps 250 500 1000 2000 4000 8000] [--settle-s 15] [--measure-s 60]
        [--out bench/results/capacity]

``--quick``: 10 s settle, 30 s windows, up to 3 frame cameras and 3 event steps. ``--keep-going``
runs every frames step even past the first that falls behind (the saturated throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak import ANONYMIZED, EVENTS, FRAMES, Offsets, Stack, slope, write_csv

from streams.codec import AvroCodec
from streams.settings import Settings

FPS = 5.0
WIDTH, HEIGHT = 1280, 720
SAMPLE_S = 3.0
INPUT_SHORTFALL = 0.9
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


@dataclass
class Step:
    phase: str
    cameras: int
    target_per_s: float
    in_per_s: float
    out_per_s: float
    lag_mean: float
    lag_slope_per_s: float
    lag_rise: float
    allowed_rise: float
    worker_cores: float
    verdict: str  # sustained | lag grows | input short
    samples: list[dict[str, float | str]] = field(default_factory=list)


async def measure_step(
    stack: Stack,
    phase: str,
    cameras: int,
    target: float,
    topic: str,
    out_topic: str | None,
    args: argparse.Namespace,
) -> Step:
    worker = stack.workers[0][0]
    await asyncio.sleep(args.settle_s)
    samples: list[dict[str, float | str]] = []
    async with Offsets(stack.bootstrap, stack.app_id) as offsets:
        start = time.monotonic()
        cpu0 = cpu_seconds(worker.pid)
        in0 = await offsets.end(topic)
        out0 = await offsets.end(out_topic) if out_topic else 0
        while time.monotonic() - start < args.measure_s:
            await asyncio.sleep(SAMPLE_S)
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {stack.work}")
            lag = (await offsets.lag([topic]))[topic]
            samples.append(
                {
                    "phase": phase,
                    "cameras": cameras,
                    "t_s": round(time.monotonic() - start, 1),
                    "lag": lag,
                    "in_total": await offsets.end(topic) - in0,
                }
            )
        elapsed = time.monotonic() - start
        in_rate = (await offsets.end(topic) - in0) / elapsed
        out_rate = ((await offsets.end(out_topic)) - out0) / elapsed if out_topic else 0.0
        cores = (cpu_seconds(worker.pid) - cpu0) / elapsed
    xs = [float(s["t_s"]) for s in samples]
    ys = [float(s["lag"]) for s in samples]
    per_s = slope(xs, ys)
    rise = per_s * (xs[-1] - xs[0])
    allowed = max(10.0, args.tolerance_s * in_rate)
    if in_rate < INPUT_SHORTFALL * target:
        verdict = "input short"
    elif rise > allowed:
        verdict = "lag grows"
    else:
        verdict = "sustained"
    step = Step(
        phase, cameras, target, in_rate, out_rate, statistics.fmean(ys), per_s, rise, allowed,
        cores, verdict, samples,
    )  # fmt: skip
    print(
        f"[capacity] {phase} {cameras} cameras: target {target:.0f}/s, in {in_rate:.1f}/s, "
        f"out {out_rate:.1f}/s, lag mean {step.lag_mean:.0f} slope {per_s * 60:+.1f}/min "
        f"rise {rise:+.0f} (allowed {allowed:.0f}), worker {cores:.2f} cores: {verdict}",
        flush=True,
    )
    return step


async def frames_phase(work: Path, args: argparse.Namespace) -> list[Step]:
    stack = Stack(work / "frames", app_id=f"capacity-{uuid.uuid4().hex[:6]}")
    stack.work.mkdir(parents=True)
    steps: list[Step] = []
    try:
        await stack.start_broker()
        stack.start_worker()
        await stack.wait_workers_ready()
        for cameras in range(1, args.frames_max + 1):
            stack.start_gateway(
                [
                    "--camera-id",
                    f"cap-{cameras}",
                    "--fps",
                    str(FPS),
                    "--width",
                    str(WIDTH),
                    "--height",
                    str(HEIGHT),
                ]
            )
            step = await measure_step(
                stack, "frames", cameras, cameras * FPS, FRAMES, ANONYMIZED, args
            )
            steps.append(step)
            if step.verdict != "sustained" and not args.keep_going:
                break
    finally:
        stack.stop()
    return steps


class EventsLoad:
    """Writes ``cameras * hz`` CameraEvent records per second to camera.events, in 0.1 s ticks."""

    TICK_S = 0.1

    def __init__(self, bootstrap: str, hz: float, partitions: int, topic: str = EVENTS) -> None:
        self.bootstrap = bootstrap
        self.hz = hz
        self.topic = topic
        self.partitions = list(range(partitions))
        self.cameras = 0
        self.pool: list[tuple[bytes, bytes, int]] = []
        self.codec = AvroCodec()

    def set_cameras(self, cameras: int) -> None:
        """Pre-encode 4 s of records for ``cameras`` (occurred_at now; 24 h skew allowed)."""
        rng = random.Random(cameras)
        now = int(time.time() * 1000)
        size = min(int(cameras * self.hz * 4), 200_000)
        pool = []
        partitioner = DefaultPartitioner()
        parts = self.partitions
        for i in range(size):
            camera_id = f"ev-cam-{i % cameras}"
            record = {
                "event_id": str(uuid.uuid4()),
                "camera_id": camera_id,
                "occurred_at": now + i // cameras,
                "kind": "FRAME_OK",
                "latency_ms": 5.0 + rng.random() * 40,
                "attributes": {},
            }
            key = camera_id.encode()
            part = partitioner(key, parts, parts)
            pool.append((key, self.codec.encode("CameraEvent", record), part))
        self.pool, self.cameras = pool, cameras

    async def run(self, stop: asyncio.Event) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            partitions = sorted(await producer.partitions_for(self.topic))
            assert partitions == self.partitions, f"{self.topic} has partitions {partitions}"
            index, owed, last = 0, 0.0, time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                owed += (now - last) * self.cameras * self.hz
                last = now
                count, owed = int(owed), owed - int(owed)
                batches = {p: producer.create_batch() for p in partitions}
                futures = []
                for _ in range(count):
                    key, value, part = self.pool[index % len(self.pool)]
                    index += 1
                    if batches[part].append(key=key, value=value, timestamp=None) is None:
                        futures.append(
                            await producer.send_batch(batches[part], self.topic, partition=part)
                        )
                        batches[part] = producer.create_batch()
                        batches[part].append(key=key, value=value, timestamp=None)
                for part, batch in batches.items():
                    if batch.record_count():
                        futures.append(await producer.send_batch(batch, self.topic, partition=part))
                if futures:
                    await asyncio.gather(*futures)
                await asyncio.sleep(max(0.0, self.TICK_S - (time.monotonic() - now)))
        finally:
            await producer.stop()


async def events_phase(work: Path, args: argparse.Namespace) -> list[Step]:
    stack = Stack(work / "events", app_id=f"capacity-{uuid.uuid4().hex[:6]}")
    stack.work.mkdir(parents=True)
    steps: list[Step] = []
    stop = asyncio.Event()
    try:
        await stack.start_broker()
        stack.start_worker()
        await stack.wait_workers_ready()
        load = EventsLoad(stack.bootstrap, args.events_hz, Settings().topic_partitions)
        load.set_cameras(args.events_steps[0])
        producer = asyncio.create_task(load.run(stop))
        for cameras in args.events_steps:
            load.set_cameras(cameras)
            step = await measure_step(
                stack, "events", cameras, cameras * args.events_hz, EVENTS, None, args
            )
            steps.append(step)
            if producer.done():
                producer.result()  # raises what stopped it
            if step.verdict != "sustained":
                break
        stop.set()
        await producer
    finally:
        stop.set()
        stack.stop()
    return steps


def summary(steps: list[Step], phase: str) -> str:
    ran = [s for s in steps if s.phase == phase]
    if not ran:
        return f"{phase}: not run"
    ok = [s for s in ran if s.verdict == "sustained"]
    best = ok[-1].cameras if ok else 0
    first_short = next((s for s in ran if s.verdict != "sustained"), None)
    last = first_short or ran[-1]
    if last.verdict == "sustained":
        tail = f"every step sustained; capacity >= {best} (raise the steps)"
    elif last.verdict == "input short":
        tail = (
            f"at {last.cameras} the load generator fell short ({last.in_per_s:.0f} of "
            f"{last.target_per_s:.0f}/s): capacity >= {best}, bound by the generator"
        )
    else:
        done = last.in_per_s - last.lag_slope_per_s  # what the worker consumed per second
        per_camera = last.target_per_s / last.cameras
        tail = (
            f"lag grows at {last.cameras}: capacity {best} cameras per worker (at that step it "
            f"consumed {done:.1f}/s = {done / per_camera:.1f} cameras' worth)"
        )
    if phase == "frames" and len(ran) > 1:
        outs = ", ".join(f"{s.cameras}: {s.out_per_s:.1f}" for s in ran)
        tail += f"; frames/s out by cameras: {outs}"
    return f"{phase}: {tail}"


def plot(path: Path, steps: list[Step], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = [p for p in ("frames", "events") if any(s.phase == p for s in steps)]
    fig, axes = plt.subplots(len(phases), 1, figsize=(8, 3.0 * len(phases)), squeeze=False)
    for ax, phase in zip(axes[:, 0], phases, strict=True):
        offset = 0.0
        for step in (s for s in steps if s.phase == phase):
            xs = [offset + float(s["t_s"]) for s in step.samples]
            ax.plot(xs, [float(s["lag"]) for s in step.samples], linewidth=1)
            ax.annotate(
                f"{step.cameras}\n{step.verdict}",
                (xs[0], 0),
                fontsize=6,
                xytext=(0, 2),
                textcoords="offset points",
            )
            offset = xs[-1] + 5
        ax.set_ylabel(f"{phase}: consumer lag (msgs)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("seconds of measurement, step after step (label: cameras)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


async def run(args: argparse.Namespace, work: Path) -> None:
    steps: list[Step] = []
    if "frames" in args.phases:
        steps += await frames_phase(work, args)
    if "events" in args.phases:
        steps += await events_phase(work, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "phase", "cameras", "target_per_s", "in_per_s", "out_per_s", "lag_mean",
        "lag_slope_per_min", "lag_rise", "allowed_rise", "worker_cores", "verdict",
    ]  # fmt: skip
    rows: list[dict[str, float | str]] = [
        {
            "phase": s.phase,
            "cameras": s.cameras,
            "target_per_s": round(s.target_per_s, 1),
            "in_per_s": round(s.in_per_s, 1),
            "out_per_s": round(s.out_per_s, 1),
            "lag_mean": round(s.lag_mean, 1),
            "lag_slope_per_min": round(s.lag_slope_per_s * 60, 2),
            "lag_rise": round(s.lag_rise, 1),
            "allowed_rise": round(s.allowed_rise, 1),
            "worker_cores": round(s.worker_cores, 2),
            "verdict": s.verdict,
        }
        for s in steps
    ]
    write_csv(out.with_suffix(".csv"), rows, header)
    samples = [sample for s in steps for sample in s.samples]
    write_csv(out.parent / f"{out.name}_samples.csv", samples, list(samples[0]) if samples else [])
    title = (
        f"capacity, 1 worker, {os.cpu_count()} cores: frames {FPS:g} fps {WIDTH}x{HEIGHT} per "
        f"camera; events-only {args.events_hz:g} events/s per camera"
    )
    plot(out.with_suffix(".png"), steps, title)
    print(f"[capacity] {title}")
    for phase in args.phases:
        print(f"[capacity] {summary(steps, phase)}")
    print(f"[capacity] wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--phases", nargs="+", choices=("frames", "events"), default=["frames", "events"]
    )
    parser.add_argument("--frames-max", type=int, default=6, help="most frame cameras to try")
    parser.add_argument(
        "--events-steps", type=int, nargs="+", default=[250, 500, 1000, 2000, 4000, 8000]
    )
    parser.add_argument("--events-hz", type=float, default=5.0, help="events/s per camera")
    parser.add_argument("--settle-s", type=float, default=15.0)
    parser.add_argument("--measure-s", type=float, default=60.0)
    parser.add_argument("--tolerance-s", type=float, default=3.0)
    parser.add_argument("--out", default="bench/results/capacity", help="CSV and PNG path stem")
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="frames: run every step up to --frames-max even past saturation (its throughput)",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.settle_s, args.measure_s, args.frames_max = 10.0, 30.0, 3
        args.events_steps = args.events_steps[:3]
    with tempfile.TemporaryDirectory(prefix="camguard-capacity-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
