"""Soak: simulated cameras through gateway, broker and two workers for an hour, sampled.

One throwaway Kafka broker (infra/kafka, a free port), two ``camguard worker`` subprocesses in
one consumer group (the app id), one ``camguard gateway`` subprocess with ``--cameras N
--source synthetic``. Every ``--interval`` seconds it records:

- RSS (MiB) and open file descriptors (``/proc/PID/fd``) of the gateway, each worker and the
  broker (each process with its descendants, if any);
- event-loop lag of each worker: the frames agent's lag monitor (agents/frames.py
  ``measure_loop_lag``: a 0.25 s sleep, how late it woke) read from ``GET /api/anonymizer``
  every 0.5 s; the column is the p99 of those readings over the interval;
- consumer lag of the workers' group on ``camera.frames`` and ``camera.events``: end offsets
  minus committed offsets (aiokafka), summed over partitions;
- frames/s in (``camera.frames``) and out (``camera.frames.anonymized``) from end offsets.

It writes ``<out>.csv`` and ``<out>.png`` (one panel per metric) and judges the run after the
warm-up: RSS growth of each process from the end of the warm-up to the end (median of the first
and of the last three samples) below 5 %, and no upward trend in consumer lag: the
least-squares slope over the post-warm-up samples, times that window, must not add more than
``--lag-tolerance-s`` seconds of the topic's input rate (and 20 messages at least).

    .venv/bin/python bench/soak.py [--minutes 60] [--warmup-minutes 5] [--cameras 4]
        [--fps 3] [--width 640] [--height 360] [--interval 5] [--out bench/results/soak]

``--quick``: 3 minutes, 1 of warm-up (a smoke run; not a soak).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.worker import prepare_topics
from streams.devstack import REPO_ROOT, LocalKafka, free_port
from streams.resilience.changelogs import ensure_changelog_topics
from streams.settings import Settings

FRAMES, EVENTS, ANONYMIZED = "camera.frames", "camera.events", "camera.frames.anonymized"
LOGLEVEL = "info"
RSS_GOAL = 0.05
LAG_POLL_S = 0.5


# --- processes ----------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    kids = _children()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(kids.get(current, []))
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MiB (0 when gone)."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def open_fds(pid: int) -> int:
    """Open file descriptors of ``pid`` and its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            total += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            continue
    return total


@dataclass
class Stack:
    """A broker, workers of one group and gateways, all subprocesses under ``work``."""

    work: Path
    app_id: str = field(default_factory=lambda: f"soak-{uuid.uuid4().hex[:6]}")
    kafka: LocalKafka | None = None
    workers: list[tuple[subprocess.Popen[bytes], str]] = field(default_factory=list)
    gateways: list[subprocess.Popen[bytes]] = field(default_factory=list)
    exited: bool = False

    @property
    def bootstrap(self) -> str:
        assert self.kafka is not None
        return self.kafka.bootstrap

    @property
    def broker_pid(self) -> int:
        assert self.kafka is not None
        return int((self.kafka.run_dir / "kafka.pid").read_text().strip())

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "CAMGUARD_BROKER": f"kafka://{self.bootstrap}",
            "CAMGUARD_APP_ID": self.app_id,
            "CAMGUARD_SPOOL_DIR": str(self.work / "spool"),
            "CAMGUARD_HEALTH_PUBLISH_INTERVAL_S": "5",
        }

    async def start_broker(self) -> None:
        self.kafka = LocalKafka(port=free_port(), run_dir=self.work / "kafka")
        await asyncio.to_thread(self.kafka.start)
        settings = Settings(broker=f"kafka://{self.bootstrap}", app_id=self.app_id)
        await prepare_topics(settings)
        await ensure_changelog_topics(settings)

    def start_worker(self, env: dict[str, str] | None = None) -> str:
        """A ``camguard worker`` in the group; returns its base URL."""
        index = len(self.workers) + 1
        port = free_port()
        argv = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(port)]
        argv += ["--data-dir", str(self.work / f"worker{index}"), "-l", LOGLEVEL]
        with (self.work / f"worker{index}.log").open("wb") as log:
            proc = subprocess.Popen(
                argv, cwd=REPO_ROOT, env={**self.env(), **(env or {})}, stdout=log, stderr=log
            )
        url = f"http://127.0.0.1:{port}"
        self.workers.append((proc, url))
        return url

    def start_gateway(self, args: Sequence[str]) -> subprocess.Popen[bytes]:
        index = len(self.gateways) + 1
        argv = [sys.executable, "-m", "streams.cli", "gateway", "--source", "synthetic"]
        argv += ["--port", str(free_port()), *args]
        with (self.work / f"gateway{index}.log").open("wb") as log:
            proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env(), stdout=log, stderr=log)
        self.gateways.append(proc)
        return proc

    async def wait_workers_ready(self, within_s: float = 300) -> None:
        """Until every worker's anonymizer reports its detector (models loaded)."""
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(timeout=5) as client:
            for proc, url in self.workers:
                while not await _detector_loaded(client, url):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"worker {url} did not come up; see {self.work}")
                    await asyncio.sleep(1)

    @staticmethod
    def stop_process(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for gateway in self.gateways:
            self.stop_process(gateway)
        for proc, _ in self.workers:
            self.stop_process(proc)
        if self.kafka is not None:
            self.kafka.stop()


async def _detector_loaded(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return bool((await client.get(f"{url}/api/anonymizer")).json().get("detector"))
    except (httpx.TransportError, ValueError):
        return False


# --- Kafka offsets ------------------------------------------------------------------------------


class Offsets:
    """End offsets of topics and the committed offsets of one group."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> Offsets:
        await self.consumer.start()
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def _tps(self, topic: str) -> list[TopicPartition]:
        if not self.partitions.get(topic):
            described = await self.admin.describe_topics([topic])
            parts = sorted(p["partition"] for t in described for p in t.get("partitions", []))
            if not parts:
                raise RuntimeError(f"topic {topic} has no partitions yet")
            self.partitions[topic] = [TopicPartition(topic, p) for p in parts]
        return self.partitions[topic]

    async def end(self, topic: str) -> int:
        """Sum of the end offsets of ``topic``."""
        tps = await self._tps(topic)
        ends = await self.consumer.end_offsets(tps)
        return int(sum(ends.values()))

    async def lag(self, topics: Sequence[str]) -> dict[str, int]:
        """End offset minus the group's committed offset (0 where none yet), per topic."""
        committed = await self.admin.list_consumer_group_offsets(self.group)
        result: dict[str, int] = {}
        for topic in topics:
            tps = await self._tps(topic)
            ends = await self.consumer.end_offsets(tps)
            total = 0
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                total += max(0, ends[tp] - done)
            result[topic] = total
        return result


# --- sampling -----------------------------------------------------------------------------------


class LoopLag:
    """Polls each worker's loop lag every LAG_POLL_S; ``take`` gives the p99 since last take."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.readings: dict[str, list[float]] = {url: [] for url in self.urls}

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while not stop.is_set():
                for url in self.urls:
                    try:
                        body = (await client.get(f"{url}/api/anonymizer")).json()
                        self.readings[url].append(float(body["event_loop_lag_ms"]))
                    except (httpx.TransportError, ValueError, KeyError):
                        pass
                await asyncio.sleep(LAG_POLL_S)

    def take(self) -> list[float]:
        out = []
        for url in self.urls:
            values, self.readings[url] = self.readings[url], []
            out.append(percentile(values, 0.99) if values else float("nan"))
        return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def columns(workers: int) -> list[str]:
    names = ["gateway", *(f"worker{i}" for i in range(1, workers + 1)), "broker"]
    return [
        "t_s",
        "phase",
        *(f"rss_mib_{n}" for n in names),
        *(f"fds_{n}" for n in names),
        *(f"loop_lag_p99_ms_worker{i}" for i in range(1, workers + 1)),
        "lag_frames",
        "lag_events",
        "frames_in_per_s",
        "frames_out_per_s",
        "events_in_per_s",
    ]


async def sample(
    stack: Stack, minutes: float, warmup_minutes: float, interval: float
) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    pids = [stack.gateways[0].pid, *(p.pid for p, _ in stack.workers), stack.broker_pid]
    names = ["gateway", *(f"worker{i}" for i in range(1, len(stack.workers) + 1)), "broker"]
    loop_lag = LoopLag([url for _, url in stack.workers])
    stop = asyncio.Event()
    poller = asyncio.create_task(loop_lag.run(stop))
    async with Offsets(stack.bootstrap, stack.app_id) as offsets:
        start = time.monotonic()
        last_t, last_in, last_out = start, await offsets.end(FRAMES), await offsets.end(ANONYMIZED)
        last_ev = await offsets.end(EVENTS)
        loop_lag.take()
        while True:
            await asyncio.sleep(interval - (time.monotonic() - start) % interval)
            procs = [stack.gateways[0], *(w for w, _ in stack.workers)]
            gone = [p.pid for p in procs if p.poll() is not None]
            if gone:
                print(f"[soak] process(es) {gone} exited early; see {stack.work}", flush=True)
                stack.exited = True
                break
            now = time.monotonic()
            frames_in, frames_out = await offsets.end(FRAMES), await offsets.end(ANONYMIZED)
            events_in = await offsets.end(EVENTS)
            lags = await offsets.lag([FRAMES, EVENTS])
            t = now - start
            row: dict[str, float | str] = {
                "t_s": round(t, 1),
                "phase": "warmup" if t < warmup_minutes * 60 else "steady",
            }
            for name, pid in zip(names, pids, strict=True):
                row[f"rss_mib_{name}"] = round(rss_mib(pid), 1)
                row[f"fds_{name}"] = open_fds(pid)
            for i, value in enumerate(loop_lag.take(), start=1):
                row[f"loop_lag_p99_ms_worker{i}"] = round(value, 2)
            row["lag_frames"], row["lag_events"] = lags[FRAMES], lags[EVENTS]
            row["frames_in_per_s"] = round((frames_in - last_in) / (now - last_t), 2)
            row["frames_out_per_s"] = round((frames_out - last_out) / (now - last_t), 2)
            row["events_in_per_s"] = round((events_in - last_ev) / (now - last_t), 2)
            last_t, last_in, last_out, last_ev = now, frames_in, frames_out, events_in
            rows.append(row)
            print(
                f"[soak] {t / 60:5.1f} min {row['phase']:<6} "
                + " ".join(f"rss_{n}={row[f'rss_mib_{n}']}" for n in names)
                + f" lag f/e={lags[FRAMES]}/{lags[EVENTS]}"
                f" out={row['frames_out_per_s']}/s"
                f" looplag={[v for k, v in row.items() if k.startswith('loop_lag_p99')]}",
                flush=True,
            )
            if t >= minutes * 60:
                break
    stop.set()
    await poller
    return rows


# --- verdict ------------------------------------------------------------------------------------


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


@dataclass
class Verdict:
    lines: list[str]
    passed: bool


def judge(
    rows: Sequence[dict[str, float | str]], names: Sequence[str], tolerance_s: float
) -> Verdict:
    steady = [r for r in rows if r["phase"] == "steady"]
    if len(steady) < 6:
        return Verdict(["too few post-warm-up samples to judge"], False)
    lines, passed = [], True
    window_s = float(steady[-1]["t_s"]) - float(steady[0]["t_s"])
    lines.append(
        f"post-warm-up window: {float(steady[0]['t_s']) / 60:.1f}-"
        f"{float(steady[-1]['t_s']) / 60:.1f} min, {len(steady)} samples"
    )
    xs = [float(r["t_s"]) for r in steady]
    for name in names:
        key = f"rss_mib_{name}"
        first = statistics.median(float(r[key]) for r in steady[:3])
        last = statistics.median(float(r[key]) for r in steady[-3:])
        growth = (last - first) / first if first else float("inf")
        trend = slope(xs, [float(r[key]) for r in steady]) * 60
        ok = growth < RSS_GOAL
        passed &= ok
        lines.append(
            f"RSS {name}: {first:.1f} -> {last:.1f} MiB, growth {growth:+.1%} "
            f"(goal < {RSS_GOAL:.0%}): {'PASS' if ok else 'FAIL'}; fitted {trend:+.2f} MiB/min"
        )
    for topic, key, rate_key in (
        (FRAMES, "lag_frames", "frames_in_per_s"),
        (EVENTS, "lag_events", "events_in_per_s"),
    ):
        rate = statistics.fmean(float(r[rate_key]) for r in steady)
        ys = [float(r[key]) for r in steady]
        per_s = slope(xs, ys)
        rise = per_s * window_s
        allowed = max(20.0, tolerance_s * rate)
        ok = rise <= allowed
        passed &= ok
        lines.append(
            f"consumer lag {topic}: mean {statistics.fmean(ys):.1f}, max {max(ys):.0f}, "
            f"slope {per_s * 60:+.3f} msg/min, fitted rise {rise:+.1f} over the window "
            f"(allowed {allowed:.0f}): {'PASS' if ok else 'FAIL'}"
        )
    return Verdict(lines, passed)


# --- output -------------------------------------------------------------------------------------


def write_csv(path: Path, rows: Sequence[dict[str, float | str]], header: Sequence[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)


def plot(
    path: Path,
    rows: Sequence[dict[str, float | str]],
    names: Sequence[str],
    workers: int,
    warmup_minutes: float,
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [float(r["t_s"]) / 60 for r in rows]
    panels: list[tuple[str, list[tuple[str, str]]]] = [
        ("RSS (MiB)", [(f"rss_mib_{n}", n) for n in names]),
        ("open fds", [(f"fds_{n}", n) for n in names]),
        (
            "loop lag p99 (ms)",
            [(f"loop_lag_p99_ms_worker{i}", f"worker{i}") for i in range(1, workers + 1)],
        ),
        ("consumer lag (msgs)", [("lag_frames", FRAMES), ("lag_events", EVENTS)]),
        (
            "msgs/s",
            [
                ("frames_in_per_s", "frames in"),
                ("frames_out_per_s", "anonymized out"),
                ("events_in_per_s", "events in"),
            ],
        ),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.0 * len(panels)), sharex=True)
    for ax, (label, series) in zip(axes, panels, strict=True):
        for key, legend in series:
            ax.plot(t, [float(r[key]) for r in rows], label=legend, linewidth=1)
        ax.axvline(warmup_minutes, color="grey", linestyle=":", linewidth=1)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper left", ncol=4)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("minutes (dotted: end of warm-up)", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


# --- the run ------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, work: Path) -> bool:
    stack = Stack(work)
    names = ["gateway", *(f"worker{i}" for i in range(1, args.workers + 1)), "broker"]
    try:
        print(f"[soak] broker ...; logs in {work}", flush=True)
        await stack.start_broker()
        for _ in range(args.workers):
            stack.start_worker()
        await stack.wait_workers_ready()
        print("[soak] workers ready; gateway ...", flush=True)
        stack.start_gateway(
            [
                "--cameras",
                str(args.cameras),
                "--fps",
                str(args.fps),
                "--width",
                str(args.width),
                "--height",
                str(args.height),
            ]
        )
        rows = await sample(stack, args.minutes, args.warmup_minutes, args.interval)
    finally:
        stack.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out.with_suffix(".csv"), rows, columns(args.workers))
    title = (
        f"soak: {args.cameras} cameras x {args.fps:g} fps {args.width}x{args.height}, "
        f"gateway + {args.workers} workers + broker, {args.minutes:g} min, {os.cpu_count()} cores"
    )
    plot(out.with_suffix(".png"), rows, names, args.workers, args.warmup_minutes, title)
    verdict = judge(rows, names, args.lag_tolerance_s)
    if stack.exited:
        verdict = Verdict([*verdict.lines, "a process exited before the end"], False)
    print(f"[soak] {title}")
    for line in verdict.lines:
        print(f"[soak] {line}")
    print(f"[soak] overall: {'PASS' if verdict.passed else 'FAIL'}")
    print(f"[soak] wrote {out.with_suffix('.csv')} and {out.with_suffix('.png')}")
    return verdict.passed


def rejudge(path: Path, args: argparse.Namespace) -> bool:
    """Print the verdict on a CSV of an earlier run (its plot is left as it is)."""
    with path.open(newline="") as handle:
        rows: list[dict[str, float | str]] = list(csv.DictReader(handle))
    workers = sum(1 for key in rows[0] if key.startswith("loop_lag_p99_ms_worker"))
    names = ["gateway", *(f"worker{i}" for i in range(1, workers + 1)), "broker"]
    verdict = judge(rows, names, args.lag_tolerance_s)
    for line in verdict.lines:
        print(f"[soak] {line}")
    print(f"[soak] overall: {'PASS' if verdict.passed else 'FAIL'}")
    return verdict.passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps", type=float, default=3.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument(
        "--lag-tolerance-s",
        type=float,
        default=2.0,
        help="a fitted lag rise over the window above this many seconds of input is a trend",
    )
    parser.add_argument("--out", default="bench/results/soak", help="CSV and PNG path stem")
    parser.add_argument("--quick", action="store_true", help="3 minutes, 1 of warm-up")
    parser.add_argument(
        "--judge", metavar="CSV", default=None, help="judge a CSV written before; no run"
    )
    args = parser.parse_args()
    if args.judge:
        sys.exit(0 if rejudge(Path(args.judge), args) else 1)
    if args.quick:
        args.minutes, args.warmup_minutes = 3.0, 1.0
    with tempfile.TemporaryDirectory(prefix="camguard-soak-") as tmp:
        passed = asyncio.run(run(args, Path(tmp)))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
