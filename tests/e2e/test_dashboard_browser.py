"""/dashboard in a real browser: Debian's chromium driven by Playwright (``executable_path``; no
browser download), against a real broker, a ``camguard worker`` and a ``camguard gateway``
with simulated cameras.

The page shows each camera, their charts draw (points sampled every second here), the previews
(latest anonymized frame, boxes drawn) load, a breaker forced open by FRAME_ERROR events
appears on the page within seconds without a reload, the gateway's queue and the camera's
privacy policy are shown, and the browser console has no errors. A screenshot is saved as a
test artifact (``var/artifacts/dashboard.png``; docs/dashboard.png is a copy of one).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import cv2
import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from streams.anonymize.model_registry import fetch_models
from streams.codec import AvroCodec
from streams.devstack import REPO_ROOT, free_port
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.web.dashboard import dashboard_html, vendored
from tests.integration.worker_process import Worker, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(420)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACT = REPO_ROOT / "var" / "artifacts" / "dashboard.png"
RUN = uuid.uuid4().hex[:6]
CAMERAS = [f"dash-{RUN}-{name}" for name in ("lobby", "gate", "yard")]
BROKEN = f"dash-{RUN}-dock"
PORTRAIT = f"dash-{RUN}-door"  # real photographs: its preview shows a blurred face, boxed
DASH = "\N{EN DASH}"  # in the page's ranges ("1 to 2 of 5")
FAILURES = 12  # above the breaker's failure threshold (5)
#: A breaker forced open is on the page within this (2-7 s seen: a 2 s poll plus the worker's
#: batch; the bound leaves room for a loaded CI machine).
OPEN_WITHIN_S = 15


def _event(camera_id: str, kind: str) -> bytes:
    record = {
        "event_id": str(uuid.uuid4()),
        "camera_id": camera_id,
        "org_id": "org-dash",
        "occurred_at": int(time.time() * 1000),
        "kind": kind,
        "latency_ms": 4.0 if kind == "FRAME_OK" else None,
        "error": "decode failed" if kind == "FRAME_ERROR" else None,
        "attributes": {},
    }
    return AvroCodec().encode("CameraEvent", record)


def _portrait(seq: int) -> bytes:
    from skimage import data  # the photograph tests/models/scenes.py uses

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    record = {
        "camera_id": PORTRAIT,
        "org_id": "org-dash",
        "site_id": None,
        "captured_at": int(time.time() * 1000),
        "seq": seq,
        "encoding": "JPEG",
        "width": image.shape[1],
        "height": image.shape[0],
        "data": bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]),
    }
    return AvroCodec().encode("Frame", record)


async def _produce(bootstrap: str, camera_id: str, kind: str, n: int) -> None:
    """``n`` CameraEvents of ``kind`` (or, for kind ``FRAME``, ``n`` photographs of a face)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024**2)
    await producer.start()
    try:
        for seq in range(n):
            if kind == "FRAME":
                await producer.send("camera.frames", key=camera_id.encode(), value=_portrait(seq))
                continue
            value = _event(camera_id, kind)
            await producer.send("camera.events", key=camera_id.encode(), value=value)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, camera_id: str, kind: str, n: int) -> None:
    """:func:`_produce` from a thread of its own (Playwright's sync API runs a loop here)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _produce(bootstrap, camera_id, kind, n)).result(60)


def _wait_json(url: str, check: Any, within: float, what: str, proc: Any) -> Any:
    deadline = time.monotonic() + within
    body: Any = None
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the worker exited while waiting for {what}"
            try:
                answer = client.get(url)
                if answer.status_code == 200:
                    body = answer.json()
                    if check(body):
                        return body
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    raise AssertionError(f"timed out after {within:.0f} s waiting for {what}; last: {body}")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    """The pinned ONNX models in the cache (``camguard models fetch``; no download when there)."""
    directory = Settings().models_dir
    fetch_models(directory)
    return directory


@pytest.fixture
def stack(kafka_bootstrap: str, models_dir: Path, tmp_path: Path) -> Iterator[tuple[Worker, str]]:
    """A worker (charts sampled every second, the gateway listed) and a gateway streaming
    three synthetic cameras at 2 frames/s."""
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = worker_env(
        kafka_bootstrap,
        app_id=f"dashboard-{RUN}",
        store="memory://",
        models_dir=str(models_dir),
        consumer_auto_offset_reset="latest",
        worker_pool_size="1",
        dashboard_sample_s="1",
        gateways=gateway_url,
    )
    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log")
    gateway_env = {**env, "CAMGUARD_SPOOL_DIR": str(tmp_path / "spool")}
    argv = [sys.executable, "-m", "streams.cli", "gateway", "--source", "synthetic", "--fps", "2"]
    argv += ["--width", "480", "--height", "270", "--heartbeat", "2", "--port", str(gateway_port)]
    for camera in CAMERAS:
        argv += ["--camera-id", camera]
    with (tmp_path / "gateway.log").open("wb") as out:
        gateway = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=gateway_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield worker, gateway_url
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
        worker.stop()
        print("worker log:\n" + worker.tail())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
@pytest.mark.skipif(vendored("uPlot.iife.min.js") is None, reason="uPlot missing: make web-assets")
def test_dashboard_in_chromium(stack: tuple[Worker, str], kafka_bootstrap: str) -> None:
    from playwright.sync_api import sync_playwright

    worker, gateway_url = stack
    api = f"{worker.url}/api/dashboard?q=dash-{RUN}"

    def every_camera_previewed(body: Any) -> bool:
        rows = {c["camera_id"]: c for c in body["cameras"]}
        return all(rows.get(c, {}).get("preview") is not None for c in CAMERAS)

    _wait_json(api, every_camera_previewed, 240, "frames of every camera", worker.proc)
    for server in (worker.url, gateway_url):  # both /metrics carry the process's own series
        text = httpx.get(f"{server}/metrics", timeout=10).text
        for name in ("process_resident_memory_bytes", "process_open_fds", "python_gc_"):
            assert name in text, (server, name)
    # the worker consumes now (it started at the topics' end): a fourth camera, events only
    produce(kafka_bootstrap, BROKEN, "FRAME_OK", 3)
    produce(kafka_bootstrap, PORTRAIT, "FRAME", 3)

    def both_seen(body: Any) -> bool:
        rows = {c["camera_id"]: c for c in body["cameras"]}
        return BROKEN in rows and rows.get(PORTRAIT, {}).get("preview") is not None

    _wait_json(api, both_seen, 60, f"{BROKEN}'s events and {PORTRAIT}'s frames", worker.proc)

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"{worker.url}/dashboard?q=dash-{RUN}")
            page.wait_for_function("window.camguardDashboard.ready", timeout=20_000)
            assert page.locator("#nocharts").is_hidden()

            # each camera is shown, with a sparkline chart that has points
            for camera in [*CAMERAS, BROKEN, PORTRAIT]:
                row = page.locator(f'tr[data-camera="{camera}"]')
                row.wait_for(timeout=10_000)
                assert row.locator(".uplot canvas").count() >= 1
            page.wait_for_function(
                "cams => cams.every(c => S.series.has(c) && S.series.get(c).t.length >= 3)",
                arg=CAMERAS,
                timeout=30_000,
            )

            # previews load (real JPEGs, decoded by the browser)
            page.wait_for_function(_THUMBS, arg=[*CAMERAS, PORTRAIT], timeout=30_000)

            # a breaker forced open shows up without reloading
            state = page.locator(f'tr[data-camera="{BROKEN}"] td.state')
            assert state.inner_text() == "CLOSED"
            forced = time.monotonic()
            produce(kafka_bootstrap, BROKEN, "FRAME_ERROR", FAILURES)
            page.wait_for_function(
                f"document.querySelector('tr[data-camera=\"{BROKEN}\"] td.state')"
                ".textContent === 'OPEN'",
                timeout=OPEN_WITHIN_S * 1000,
            )
            shown_after = time.monotonic() - forced
            assert int(page.inner_text("#c-open")) >= 1

            # the camera panel: charts with drawn pixels, timeline, preview, policy
            page.click(f'tr[data-camera="{BROKEN}"]')
            page.wait_for_function(
                "[...document.querySelectorAll('#d-trans li')]"
                ".some(li => li.textContent.includes('→ OPEN'))",
                timeout=15_000,
            )
            assert page.locator("#d-band .OPEN").count() >= 1
            page.click(f'tr[data-camera="{PORTRAIT}"]')
            page.wait_for_function(
                "() => { const i = document.querySelector('#d-preview img');"
                " return i && i.complete && i.naturalWidth > 0; }",
                timeout=15_000,
            )
            assert page.locator("#d-charts .uplot").count() == 3
            assert min(page.evaluate("S.detailCharts.map(p => p.data[0].length)")) >= 3
            page.wait_for_function(_DRAWN_PIXELS, timeout=15_000)
            page.wait_for_function(
                "document.querySelectorAll('#d-policy .kv span').length >= 2", timeout=10_000
            )

            # the gateway's queue
            page.wait_for_function(
                f"document.querySelector('#gateways').textContent.includes('{gateway_url}')",
                timeout=10_000,
            )
            assert "unreachable" not in page.inner_text("#gateways")

            # search and filters
            page.select_option("#state", "open")
            page.wait_for_function(
                "document.querySelectorAll('#rows tr[data-camera]').length === 1", timeout=10_000
            )
            assert page.locator(f'tr[data-camera="{BROKEN}"]').count() == 1
            page.select_option("#state", "")
            page.wait_for_function(
                f"document.querySelectorAll('#rows tr[data-camera]').length === {len(CAMERAS) + 2}",
                timeout=10_000,
            )
            # rebuilt rows show their previews again
            page.wait_for_function(_THUMBS, arg=[*CAMERAS, PORTRAIT], timeout=15_000)
            page.wait_for_timeout(2500)  # one more update, then the picture
            ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACT), full_page=True)

            # paging and sorting, as bookmarked in the URL and by clicking a column
            page.goto(f"{worker.url}/dashboard?q=dash-{RUN}&limit=2")
            page.wait_for_function("window.camguardDashboard.ready", timeout=20_000)
            assert page.locator("#rows tr[data-camera]").count() == 2
            assert page.inner_text("#range") == f"1{DASH}2 of {len(CAMERAS) + 2}"
            page.click("#next")
            page.wait_for_function(
                "d => document.querySelector('#range').textContent.startsWith('3' + d + '4')",
                arg=DASH,
            )
            page.click('th[data-sort="errors"]')  # ascending
            page.click('th[data-sort="errors"]')  # descending
            page.wait_for_function(
                f"document.querySelector('#rows tr[data-camera]').dataset.camera === '{BROKEN}'",
                timeout=10_000,
            )
            assert page.inner_text("#range").startswith(f"1{DASH}2")  # a new order: from the top
        finally:
            browser.close()

    print(f"breaker OPEN on the page {shown_after:.1f} s after the errors were sent; {ARTIFACT}")
    assert not problems, f"browser console errors: {problems}"


def one_camera_per_partition(prefix: str, partitions: int) -> list[str]:
    """Camera ids whose keys land on partitions 0..partitions-1 (Kafka's default partitioner),
    so that every worker of the group owns some of them."""
    from aiokafka.partitioner import murmur2

    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        camera_id = f"{prefix}{n}"
        found.setdefault((murmur2(camera_id.encode()) & 0x7FFFFFFF) % partitions, camera_id)
        n += 1
    return [found[p] for p in range(partitions)]


def settled_ownership(workers: list[Worker], cameras: list[str], within: float) -> list[set[str]]:
    """Each worker's ``scope=local`` cameras, asked of both in turn until the answers are
    disjoint, non-empty and together cover ``cameras``; the last answers on time-out."""
    deadline = time.monotonic() + within
    own: list[set[str]] = []
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            own = []
            for worker in workers:
                assert worker.proc.poll() is None, "a worker exited while the group settled"
                try:
                    answer = client.get(f"{worker.url}/api/dashboard?scope=local")
                except httpx.TransportError:
                    break
                if answer.status_code != 200:
                    break
                own.append({c["camera_id"] for c in answer.json()["cameras"]} & set(cameras))
            settled = len(own) == len(workers) and all(own) and not own[0] & own[1]
            if settled and set().union(*own) == set(cameras):
                return own
            time.sleep(0.5)
    return own


def test_two_workers_answer_for_the_whole_fleet(
    kafka_bootstrap: str, models_dir: Path, tmp_path: Path
) -> None:
    """Every worker's /api/dashboard lists every camera, and its previews (JPEG bytes) and
    series, whichever worker owns the camera: previews are relayed as bytes, not text."""
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    partitions = Settings().topic_partitions
    cameras = one_camera_per_partition(f"pair-{RUN}-", partitions)
    env = worker_env(
        kafka_bootstrap,
        app_id=f"dashboard-pair-{RUN}",  # rocksdb tables: each worker lists its partitions
        models_dir=str(models_dir),
        consumer_auto_offset_reset="latest",
        worker_pool_size="1",
        dashboard_sample_s="1",
    )
    workers = [Worker(env, tmp_path / f"data-{i}", tmp_path / f"worker-{i}.log") for i in (0, 1)]
    argv = [sys.executable, "-m", "streams.cli", "gateway", "--source", "synthetic:noface"]
    argv += ["--fps", "1", "--width", "320", "--height", "180", "--port", str(free_port())]
    for camera in cameras:
        argv += ["--camera-id", camera]
    gateway_env = {**env, "CAMGUARD_SPOOL_DIR": str(tmp_path / "spool")}
    with (tmp_path / "gateway.log").open("wb") as out:
        gateway = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=gateway_env, stdout=out, stderr=subprocess.STDOUT
        )
    first, second = workers
    try:

        def whole(body: Any) -> bool:
            rows = {c["camera_id"]: c for c in body["cameras"]}
            ready = all(rows.get(c, {}).get("preview") is not None for c in cameras)
            return ready and not body["partial"]

        for worker in workers:
            _wait_json(f"{worker.url}/api/dashboard?q=pair-{RUN}", whole, 300, "all", worker.proc)
        # the assignment settles over one or more rebalances (the worker that joined last gets
        # its partitions at the next one, and a worker asked mid-rebalance may still list a
        # camera it is handing over); wait for a moment at which both workers' own cameras are
        # disjoint, non-empty and cover the fleet
        own = settled_ownership(workers, cameras, 120)
        with httpx.Client(timeout=10) as client:
            assert own[0], own
            assert own[1], own
            assert not own[0] & own[1], own
            assert own[0] | own[1] == set(cameras), own
            for camera in cameras:
                answer = client.get(f"{first.url}/api/dashboard/previews/{camera}")
                assert answer.status_code == 200, (camera, answer.text[:200])
                assert answer.headers["content-type"].startswith("image/jpeg")
                image = cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_COLOR)
                assert image is not None, f"{camera}'s preview is no JPEG"
            assert client.get(f"{first.url}/api/dashboard/previews/nobody-{RUN}").status_code == 404

        def sampled(body: Any) -> bool:
            found = {s["camera_id"]: s for s in body["series"]}
            return all(len(found.get(c, {}).get("t", ())) >= 1 for c in cameras)

        # a camera's series has its first point at the owner's next sample (every second), which
        # can come after its first preview: the previews above need no sample, series do
        url = f"{second.url}/api/dashboard/series?cameras={','.join(cameras)}"
        series = _wait_json(url, sampled, 30, "every camera sampled", second.proc)
        assert sorted(s["camera_id"] for s in series["series"]) == sorted(cameras)
        assert not series["partial"]
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
        for worker in workers:
            worker.stop()


def test_a_started_worker_reads_back_the_last_windows_transitions(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Timelines survive a restart: a worker reads the last window of
    camera.breaker.transitions at start (a transition older than the window is left out)."""
    asyncio.run(ensure_topics(Settings(broker=f"kafka://{kafka_bootstrap}")))
    camera = f"seed-{RUN}"
    now_ms = int(time.time() * 1000)

    def transition(at_ms: int, to_state: str) -> bytes:
        record = {
            "camera_id": camera,
            "from_state": "CLOSED" if to_state == "OPEN" else "OPEN",
            "to_state": to_state,
            "reason": "failure_threshold" if to_state == "OPEN" else "recovery_timeout",
            "at": at_ms,
            "retry_after_ms": None,
            "consecutive_failures": 5,
        }
        return AvroCodec().encode("BreakerTransition", record)

    async def send_transitions() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            # timestamps are not ordered in a partition: the hour-old record sits between two
            # of the window, after the one the broker's time index finds for the window's start
            stamped = ((now_ms - 180_000, "OPEN"), (now_ms - 3_600_000, "OPEN"))
            for at_ms, to_state in (*stamped, (now_ms - 120_000, "HALF_OPEN")):
                await producer.send(
                    "camera.breaker.transitions",
                    key=camera.encode(),
                    value=transition(at_ms, to_state),
                    timestamp_ms=at_ms,
                )
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send_transitions())
    env = worker_env(
        kafka_bootstrap,
        app_id=f"dashboard-seed-{RUN}",
        store="memory://",
        consumer_auto_offset_reset="latest",
        dashboard_sample_s="1",
    )
    worker = Worker(env, tmp_path / "data", tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        url = f"{worker.url}/api/dashboard/series?cameras={camera}"
        found: list[Any] = []
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline and not found:
                assert worker.proc.poll() is None, worker.tail()
                produce(kafka_bootstrap, camera, "FRAME_OK", 1)  # until it is sampled here
                with contextlib.suppress(httpx.TransportError, ValueError, KeyError):
                    found = client.get(url).json()["series"]
                time.sleep(1)
        assert found, f"{camera} never sampled:\n{worker.tail()}"
        (series,) = found
        assert [(t["to_state"], round(t["at"] * 1000)) for t in series["transitions"]] == [
            ("OPEN", now_ms - 180_000),
            ("HALF_OPEN", now_ms - 120_000),
        ]
    finally:
        worker.stop()


class _NoChartsHandler(http.server.BaseHTTPRequestHandler):
    """The page without uPlot and canned JSON: what a worker without web assets serves."""

    row: ClassVar[dict[str, Any]] = {
        "camera_id": "cam-1",
        "org_id": "org-1",
        "online": True,
        "state": "OPEN",
        "last_seen": time.time(),
        "fps": 4.0,
        "p95_ms": 12.0,
        "errors": 3,
        "frames": 40,
        "trips": 1,
        "preview": None,
    }

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        summary = {
            "cameras": 1,
            "online": 1,
            "offline": 0,
            "closed": 0,
            "open": 1,
            "half_open": 0,
            "fps": 4.0,
            "fail_closed_per_s": 0.0,
            "deadletter_per_s": 0.0,
            "anonymized_per_s": 4.0,
        }
        answers: dict[str, Any] = {
            "/api/dashboard": {
                "summary": summary,
                "cameras": [self.row],
                "matched": 1,
                "offset": 0,
                "limit": 50,
                "partial": False,
                "previews": False,
                "interval_s": 5.0,
                "window_s": 900.0,
                "generated_at": time.time(),
            },
            "/api/dashboard/series": {
                "series": [],
                "interval_s": 5.0,
                "window_s": 900.0,
                "partial": False,
            },
            "/api/dashboard/gateways": {"gateways": []},
            "/policies": {"policies": {"privacy": {"blur_mode": "gaussian"}}, "provenance": {}},
        }
        if path == "/dashboard":
            body, kind = dashboard_html(dirs=()).encode(), "text/html"
        elif path in answers:
            body, kind = json.dumps(answers[path]).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_page_without_uplot_says_so_and_works() -> None:
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoChartsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/dashboard")
                page.wait_for_function("window.camguardDashboard.ready", timeout=10_000)
                assert page.locator("#nocharts").is_visible()
                assert page.locator('tr[data-camera="cam-1"] td.state').inner_text() == "OPEN"
                assert page.inner_text("#c-open") == "1"
                page.click('tr[data-camera="cam-1"]')
                page.wait_for_selector("#d-band")
                assert "charts unavailable" in page.inner_text("#d-charts")
                assert "previews are turned off" in page.inner_text("#d-preview")
                page.wait_for_function("document.querySelector('#d-policy .kv')")
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert not problems, problems


#: Each camera's row shows its preview, loaded (a real JPEG the browser decoded).
_THUMBS = """cams => cams.every(c => {
  const i = document.querySelector(`tr[data-camera="${c}"] img.thumb`);
  return i && i.complete && i.naturalWidth > 0;
})"""

#: Some pixels of the camera panel's fps chart are drawn (the line and its fill).
_DRAWN_PIXELS = """() => {
  const c = document.querySelector('#d-charts .uplot canvas');
  if (!c || !c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n > 500;
}"""
