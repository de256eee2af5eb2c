"""The operator's dashboard: GET /dashboard (one HTML page, no internet needed) and its JSON.

- ``GET /api/dashboard``: fleet summary (cameras online/offline, breakers by state, frames/s,
  fail-closed, dead-letter and anonymized rates) and one page of the camera table, searched
  (``q``: camera or org id), filtered (``state``), sorted (``sort``, ``order``) and paged
  (``offset``, ``limit``) on the server, so the page stays fast at thousands of cameras.
- ``GET /api/dashboard/series?cameras=a,b&since=``: per camera, the last
  ``CAMGUARD_DASHBOARD_WINDOW_S`` (15 min) of fps, p95 latency, errors and breaker state
  sampled every ``CAMGUARD_DASHBOARD_SAMPLE_S`` (5 s), and its recent breaker transitions.
- ``GET /api/dashboard/previews/{camera_id}``: the camera's latest anonymized frame as a JPEG
  thumbnail with its boxes drawn (routed to the worker that owns the camera); off with
  ``CAMGUARD_DASHBOARD_PREVIEWS=false`` (403).
- ``GET /api/dashboard/gateways``: ``/queue/stats`` of each gateway in ``CAMGUARD_GATEWAYS``
  (a comma list of base URLs: gateways do not announce themselves, the operator lists them).

Where the data comes from: a timer samples this worker's ``camera_health`` and ``breakers``
tables (what /api/cameras shows) into bounded rings (:mod:`streams.web.timeseries`); the
breaker transitions and anonymized frames this worker sends to ``camera.breaker.transitions``
and ``camera.frames.anonymized`` are recorded as they are sent (:func:`tap_sends` wraps the two
topics' ``send``: no change to the agents), and at start the last window's transitions are read
back from the topic once (:func:`read_recent_transitions`), so a restart keeps the timelines.
The JSON answers gather every worker's cameras like /api/cameras (``scope=local`` between
workers).

Charts use uPlot (npm ``uplot``, pinned in package.json), inlined into the page from the
package (``streams/web/static/``, copied there by setup.py when the wheel is built) or, in a
checkout, from ``node_modules/``; without it the page works and says charts are unavailable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faust.exceptions import NotReady
from faust.web import Request, Response, View
from pydantic import ValidationError

from streams.app import TRANSITIONS, CamguardApp
from streams.codec import CodecError
from streams.contract.worker_http import (
    MAX_PAGE,
    CameraSeries,
    DashboardCamera,
    DashboardPage,
    DashboardSummary,
    GatewaysResponse,
    GatewayStatus,
    RelayedQueueStats,
    SeriesResponse,
)
from streams.kafka_security import aiokafka_kwargs
from streams.resilience.breaker import effective_state
from streams.resilience.health import HealthConfig, snapshot
from streams.resilience.tables import CAMERA_HEALTH, CameraTables
from streams.settings import Settings
from streams.web import previews
from streams.web.timeseries import (
    CameraSample,
    FleetHistory,
    LatestFrames,
    Rates,
    Row,
    select,
    summary,
    transition_point,
)

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
#: uPlot's files: in the package (a wheel), else in the checkout's node_modules.
VENDORED = ("uPlot.iife.min.js", "uPlot.min.css")
VENDOR_DIRS = (
    PACKAGE_DIR / "static" / "uplot",
    PACKAGE_DIR.parents[1] / "node_modules" / "uplot" / "dist",
)

ROWS_TTL_S = 0.5
ROWS_CHUNK = 250


# --- the page -----------------------------------------------------------------------------


def vendored(name: str, dirs: tuple[Path, ...] = VENDOR_DIRS) -> str | None:
    """The text of one of uPlot's files, or None when it was not installed or built in."""
    for folder in dirs:
        path = folder / name
        if path.is_file():
            return path.read_text("utf-8")
    return None


def dashboard_html(dirs: tuple[Path, ...] = VENDOR_DIRS) -> str:
    """The page with uPlot inlined (nothing is fetched from elsewhere); without uPlot the page
    says so and shows everything but the charts."""
    page = resources.files("streams.web").joinpath("dashboard.html").read_text("utf-8")
    script, style = vendored(VENDORED[0], dirs), vendored(VENDORED[1], dirs)
    if script is None or style is None:
        return page.replace("/*UPLOT_CSS*/", "").replace("/*UPLOT_JS*/", "")
    # "</" cannot end the inline elements early: uPlot's code has no "</script" or "</style"
    return page.replace("/*UPLOT_CSS*/", style).replace("/*UPLOT_JS*/", script)


# --- the worker's side --------------------------------------------------------------------


class BadQueryError(ValueError):
    """A query parameter is not of its declared type."""


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BadQueryError(f"{name} must be an integer") from None


def _number(query: Mapping[str, str], name: str) -> float | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadQueryError(f"{name} must be a number") from None
    return value if value == value else None  # NaN: no bound


class DashboardState:
    """What one worker keeps for the dashboard, and how it reads its tables."""

    def __init__(self, cg: CamguardApp, clock: Callable[[], float] = time.time) -> None:
        settings = cg.settings
        self.cg = cg
        self.clock = clock
        self.history = FleetHistory(settings.dashboard_window_s, settings.dashboard_sample_s)
        self.frames = LatestFrames(settings.dashboard_preview_bytes)
        self.previews_on = settings.dashboard_previews
        self.config = HealthConfig(
            offline_after_s=settings.offline_after_s,
            online_after_frames=settings.online_after_frames,
        )
        self._tables: CameraTables | None = None
        self._rows: tuple[float, list[Row]] | None = None
        self._thumbs: dict[str, tuple[int, bytes]] = {}

    @property
    def tables(self) -> CameraTables:
        if self._tables is None:
            self._tables = CameraTables.of(self.cg.tables.by_name)
        return self._tables

    async def rows(self) -> list[Row]:
        """This worker's cameras as table rows (cached for :data:`ROWS_TTL_S`); the event loop
        gets a turn every :data:`ROWS_CHUNK` cameras (27 ms a 1 000 cameras on a busy core)."""
        now = self.clock()
        if self._rows is not None and now - self._rows[0] < ROWS_TTL_S:
            return self._rows[1]
        tables = self.tables
        rows: list[Row] = []
        for camera_id, health in tables.health_items():
            if len(rows) % ROWS_CHUNK == ROWS_CHUNK - 1:
                await asyncio.sleep(0)
            snap = snapshot(health, now, self.config)
            breaker = tables.breaker(camera_id)
            rows.append(
                {
                    "camera_id": camera_id,
                    "org_id": snap.org_id,
                    "online": snap.online,
                    "state": effective_state(breaker, now).value,
                    "last_seen": snap.last_seen,
                    "fps": round(snap.fps, 3),
                    "p95_ms": round(snap.p95_latency_ms, 3),
                    "errors": snap.errors_count,
                    "frames": snap.frames_processed,
                    "trips": breaker.trips,
                    "preview": self.frames.version(camera_id) if self.previews_on else None,
                }
            )
        self._rows = (now, rows)
        return rows

    async def sample(self) -> int:
        """One tick of the sampler: a point per camera, and the fleet rates."""
        now = self.clock()
        self._rows = None
        rows = await self.rows()
        self.history.count_rates(now, self.cg.counters)
        samples = (
            CameraSample(r["camera_id"], r["fps"], r["p95_ms"], r["errors"], r["state"])
            for r in rows
        )
        return self.history.sample(now, samples)

    async def local_page(self) -> dict[str, Any]:
        """Every row of this worker and its rates, as :func:`merge_pages` reads answers."""
        rows = await self.rows()
        return {"cameras": rows, "summary": dataclasses.asdict(self.history.rates)}

    def series(self, camera_ids: list[str], since: float | None) -> list[dict[str, Any]]:
        found = []
        for camera_id in camera_ids:
            if camera_id not in self.history.rings:  # not sampled here: another worker's
                continue
            columns = self.history.series(camera_id, since)
            timeline = self.history.timeline(camera_id)
            found.append(
                {
                    "camera_id": camera_id,
                    **columns,
                    # all of them (at most TRANSITIONS_KEPT, usually none), whatever ``since``:
                    # one is recorded once sent, possibly after a later sample was read
                    "transitions": [dataclasses.asdict(p) for p in timeline],
                }
            )
        return found

    def on_transition(self, key: Any, value: Any) -> None:
        try:
            record = self.cg.codec.decode_as("BreakerTransition", value, logical_types=False)
        except (CodecError, TypeError, ValueError) as exc:
            log.debug("transition not recorded for the dashboard: %r", exc)
            return
        self.history.add_transition(str(record["camera_id"]), transition_point(record))

    def on_anonymized(self, key: Any, value: Any) -> None:
        if self.previews_on and isinstance(key, bytes) and isinstance(value, bytes):
            self.frames.put(key.decode("utf-8", "replace"), value)

    def thumbnail(self, camera_id: str) -> bytes | None:
        """The camera's preview JPEG (made once per frame version), None if none is held."""
        held = self.frames.get(camera_id)
        if held is None:
            return None
        version, value = held
        cached = self._thumbs.get(camera_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        record = self.cg.codec.decode_as("AnonymizedFrame", value, logical_types=False)
        jpeg = previews.thumbnail(record)
        if len(self._thumbs) > 4 * max(1, len(self.frames)):
            self._thumbs.clear()
        self._thumbs[camera_id] = (version, jpeg)
        return jpeg


async def read_recent_transitions(
    settings: Settings,
    observe: Callable[[Any, Any], None],
    since_s: float,
    max_records: int = 100_000,
) -> int:
    """Pass every record of ``camera.breaker.transitions`` stamped since ``since_s`` (epoch s)
    to ``observe(key, value)``, up to the topic's end as of now; return how many. A consumer
    of no group (nothing committed), every partition: a restarted worker's timelines."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **aiokafka_kwargs(settings)
    )
    await admin.start()
    try:
        described = await admin.describe_topics([TRANSITIONS])
    finally:
        await admin.close()
    tps = [
        TopicPartition(TRANSITIONS, part["partition"])
        for topic in described
        if not topic.get("error_code")
        for part in topic["partitions"]
    ]
    if not tps:
        return 0
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **aiokafka_kwargs(settings),
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        since_ms = int(since_s * 1000)
        starts = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
        ends = await consumer.end_offsets(tps)
        pending: dict[TopicPartition, int] = {}
        for tp in tps:
            start = starts.get(tp)
            if start is not None and start.offset < ends[tp]:
                consumer.seek(tp, start.offset)
                pending[tp] = ends[tp]
        read = 0
        while pending and read < max_records:
            batches = await consumer.getmany(*pending, timeout_ms=500, max_records=2000)
            for tp, messages in batches.items():
                for message in messages:
                    # offsets_for_times gives the first record stamped since ``since_s``, but
                    # timestamps are not ordered in a partition: an older record can follow it
                    if message.offset < pending.get(tp, 0) and message.timestamp >= since_ms:
                        observe(message.key, message.value)
                        read += 1
                if messages and messages[-1].offset + 1 >= pending.get(tp, 0):
                    pending.pop(tp, None)
        return read
    finally:
        await consumer.stop()


def tap_sends(topic: Any, observe: Callable[[Any, Any], None]) -> None:
    """Call ``observe(key, value)`` after each ``topic.send(key=..., value=...)`` of this
    process (the instance's ``send`` is wrapped; a failing observer never fails a send)."""
    original: Callable[..., Awaitable[Any]] = topic.send

    @functools.wraps(original)
    async def send(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        try:
            observe(kwargs.get("key"), kwargs.get("value"))
        except Exception:  # the dashboard must never cost a frame or a transition
            log.exception("dashboard observer failed")
        return result

    topic.send = send


def merge_pages(
    answers: list[dict[str, Any]],
) -> tuple[list[Row], Rates]:
    """Rows and summed rates (from ``summary``) of every worker's ``scope=local`` answer (one
    row per camera: the one seen latest)."""
    rows: dict[str, Row] = {}
    totals = {"fail_closed_per_s": 0.0, "deadletter_per_s": 0.0, "anonymized_per_s": 0.0}
    for answer in answers:
        for row in answer.get("cameras", ()):
            # a worker that lost the camera's partition may still hold its row (memory://
            # tables keep revoked partitions): the owner's row is the one last seen latest
            camera_id = str(row["camera_id"])
            held = rows.get(camera_id)
            if held is None or (row["last_seen"] or 0.0) > (held["last_seen"] or 0.0):
                rows[camera_id] = row
        for name in totals:
            totals[name] += float(answer.get("summary", {}).get(name, 0.0))
    return list(rows.values()), Rates(**totals)


async def _from_other_workers(
    cg: CamguardApp, path: str, params: dict[str, str]
) -> tuple[list[dict[str, Any]], bool]:
    """``path``'s ``scope=local`` answer of every other host of the camera tables; and
    whether some did not answer."""
    own = str(cg.app.conf.canonical_url).rstrip("/")
    try:
        hosts = [h.rstrip("/") for h in cg.app.router.table_metadata(CAMERA_HEALTH)]
    except KeyError:
        return [], True
    others = [h for h in hosts if h != own]

    async def fetch(host: str) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(5.0):
                url = f"{host}{path}"
                query = {**params, "scope": "local"}
                async with cg.app.http_client.get(url, params=query) as response:
                    if response.status != 200:
                        return None
                    body = await response.json()
                    return dict(body)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.warning("worker %s did not answer %s: %r", host, path, exc)
            return None

    answers = await asyncio.gather(*(fetch(h) for h in others))
    found = [a for a in answers if a is not None]
    return found, len(found) < len(answers)


def gateway_urls(setting: str) -> list[str]:
    """The base URLs of ``CAMGUARD_GATEWAYS`` (comma-separated, trailing slashes dropped)."""
    return [part.strip().rstrip("/") for part in setting.split(",") if part.strip()]


async def gateway_status(
    get: Callable[[str], Awaitable[tuple[int, Any]]], url: str
) -> GatewayStatus:
    """A gateway's /queue/stats through ``get`` (url -> (status, JSON body))."""
    try:
        async with asyncio.timeout(3.0):
            status, body = await get(f"{url}/queue/stats")
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        return GatewayStatus(url=url, ok=False, error=repr(exc), stats=None)
    if status != 200:
        return GatewayStatus(url=url, ok=False, error=f"HTTP {status}", stats=None)
    try:
        stats = RelayedQueueStats.model_validate(body)
    except ValidationError as exc:
        return GatewayStatus(url=url, ok=False, error=f"unexpected body: {exc}", stats=None)
    return GatewayStatus(url=url, ok=True, error=None, stats=stats)


def page_response(
    rows: list[Row],
    rates: Rates,
    query: Mapping[str, str],
    partial: bool,
    state: DashboardState,
    whole: bool = False,
) -> DashboardPage:
    """The /api/dashboard answer for ``query`` over every worker's rows; with ``whole`` every
    row unfiltered, sorted by camera id (a worker's ``scope=local`` answer)."""
    offset, limit = _int(query, "offset", 0), _int(query, "limit", 50)
    if whole:
        page = sorted(rows, key=lambda row: str(row["camera_id"]))
        matched, offset, limit = len(page), 0, len(page)
    else:
        page, matched = select(
            rows,
            q=query.get("q", ""),
            state=query.get("state", ""),
            sort=query.get("sort", "camera_id"),
            order=query.get("order", "asc"),
            offset=offset,
            limit=limit,
        )
        offset, limit = min(max(offset, 0), matched), min(max(limit, 1), MAX_PAGE)
    return DashboardPage(
        summary=DashboardSummary(**summary(rows), **dataclasses.asdict(rates)),
        cameras=[DashboardCamera.model_validate(r) for r in page],
        matched=matched,
        offset=offset,
        limit=limit,
        partial=partial,
        previews=state.previews_on,
        interval_s=state.history.interval_s,
        window_s=state.history.window_s,
        generated_at=state.clock(),
    )


def install(cg: CamguardApp) -> DashboardState:
    """Register /dashboard, its JSON views, the sampler timer and the send taps on ``cg``."""
    state = DashboardState(cg)
    page = dashboard_html()
    app: Any = cg.app  # faust's decorators are untyped
    tap_sends(cg.topics.transitions, state.on_transition)
    tap_sends(cg.topics.anonymized, state.on_anonymized)
    add_timer: Callable[[Callable[[], Awaitable[None]]], object] = cg.app.timer(
        interval=cg.settings.dashboard_sample_s, name="camguard.dashboard.sample"
    )

    async def sample_dashboard() -> None:
        await state.sample()

    add_timer(sample_dashboard)
    add_task: Callable[[Callable[[], Awaitable[None]]], object] = cg.app.task

    async def seed_timelines() -> None:
        """The last window's transitions from the topic, so a restart keeps the timelines."""
        since = state.clock() - cg.settings.dashboard_window_s
        try:
            async with asyncio.timeout(30.0):
                read = await read_recent_transitions(cg.settings, state.on_transition, since)
            log.info("dashboard: %d breaker transitions of the last window read", read)
        except Exception as exc:  # the timelines then start empty; nothing else depends on it
            log.warning("dashboard: past breaker transitions not read: %r", exc)

    add_task(seed_timelines)

    @app.page("/dashboard")
    class DashboardView(View):
        async def get(self, request: Request) -> Response:
            return self.html(page)

    _install_table(cg, state)
    _install_previews(cg, state)
    _install_gateways(cg)
    return state


def _install_table(cg: CamguardApp, state: DashboardState) -> None:
    app: Any = cg.app

    @app.page("/api/dashboard")
    class DashboardDataView(View):
        async def get(self, request: Request) -> Response:
            query = request.query
            try:
                _int(query, "offset", 0), _int(query, "limit", 50)
            except BadQueryError as exc:
                return self.error(400, str(exc))
            mine = await state.local_page()
            local = query.get("scope") == "local"
            theirs: list[dict[str, Any]] = []
            partial = False
            if not local:
                theirs, partial = await _from_other_workers(cg, "/api/dashboard", {})
            rows, rates = merge_pages([mine, *theirs])
            body = page_response(rows, rates, query, partial, state, whole=local)
            return self.json(body.model_dump(mode="json"))

    @app.page("/api/dashboard/series")
    class SeriesView(View):
        async def get(self, request: Request) -> Response:
            query = request.query
            try:
                since = _number(query, "since")
            except BadQueryError as exc:
                return self.error(400, str(exc))
            wanted = [c for c in query.get("cameras", "").split(",") if c][:MAX_PAGE]
            found = state.series(wanted, since)
            partial = False
            if query.get("scope") != "local":
                rest = [c for c in wanted if c not in {s["camera_id"] for s in found}]
                if rest:
                    params = {"cameras": ",".join(rest)}
                    if since is not None:
                        params["since"] = repr(since)
                    theirs, partial = await _from_other_workers(cg, "/api/dashboard/series", params)
                    found += [s for answer in theirs for s in answer.get("series", ())]
            body = SeriesResponse(
                series=[CameraSeries.model_validate(s) for s in found],
                interval_s=state.history.interval_s,
                window_s=state.history.window_s,
                partial=partial,
            )
            return self.json(body.model_dump(mode="json"))


RETRY = {"Retry-After": "1"}
ROUTED = "X-Camguard-Routed"
"""Header of a preview request forwarded to the camera's owner (served there, never again
forwarded, so workers that disagree during a rebalance cannot bounce it)."""


def _install_previews(cg: CamguardApp, state: DashboardState) -> None:
    """GET /api/dashboard/previews/{camera_id}, forwarded to the worker owning the camera.

    Not Faust's ``table_route``: it relays the owner's answer as text, which breaks a JPEG.
    """
    app: Any = cg.app

    async def from_owner(view: View, request: Request, camera_id: str) -> Response | None:
        """The owner's answer when another worker owns the camera; None when this one does."""
        try:
            owner = cg.app.router.key_store(CAMERA_HEALTH, camera_id)
        except (KeyError, NotReady) as exc:
            log.warning("no owner known for %s's preview yet: %r", camera_id, exc)
            return view.error(
                503, "partition not assigned yet; retry", headers={"Retry-After": "1"}
            )
        own = cg.app.conf.canonical_url
        if (owner.host, owner.port) == (own.host, own.port):
            return None
        url = owner.with_path(request.url.path).with_query(request.url.query)
        try:
            async with asyncio.timeout(5.0):
                async with cg.app.http_client.get(url, headers={ROUTED: "1"}) as answer:
                    body = await answer.read()
                    kind = answer.headers.get("Content-Type", "application/octet-stream")
                    relayed: Response = view.bytes(body, status=answer.status)
                    relayed.headers["Content-Type"] = kind
                    relayed.headers["Cache-Control"] = "no-store"
                    return relayed
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("owner of %s did not answer its preview: %r", camera_id, exc)
            return view.error(
                503, "the camera's worker did not answer; retry", headers={"Retry-After": "1"}
            )

    @app.page("/api/dashboard/previews/{camera_id}")
    class PreviewView(View):
        async def get(self, request: Request, camera_id: str) -> Response:
            if not state.previews_on:
                return self.error(403, "previews are turned off")
            if ROUTED not in request.headers:
                relayed = await from_owner(self, request, camera_id)
                if relayed is not None:
                    return relayed
            try:
                jpeg = await asyncio.to_thread(state.thumbnail, camera_id)
            except (CodecError, ValueError, OSError) as exc:
                log.warning("preview of %s not made: %r", camera_id, exc)
                jpeg = None
            if jpeg is None:
                return self.error(404, f"no anonymized frame of {camera_id!r} held")
            response: Response = self.bytes(jpeg, content_type="image/jpeg")
            response.headers["Cache-Control"] = "no-store"
            return response


def _install_gateways(cg: CamguardApp) -> None:
    app: Any = cg.app
    urls = gateway_urls(cg.settings.gateways)

    async def get_json(url: str) -> tuple[int, Any]:
        async with cg.app.http_client.get(url) as response:
            body = await response.json() if response.status == 200 else None
            return response.status, body

    @app.page("/api/dashboard/gateways")
    class GatewaysView(View):
        async def get(self, request: Request) -> Response:
            found = await asyncio.gather(*(gateway_status(get_json, u) for u in urls))
            body = GatewaysResponse(gateways=list(found))
            return self.json(json.loads(body.model_dump_json()))
