"""The dashboard's pure parts: rings, fleet history, rates, frames budget, table selection."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from streams.app import CamguardApp
from streams.contract.worker_http import MAX_PAGE
from streams.settings import Settings
from streams.web.dashboard import (
    BadQueryError,
    DashboardState,
    _int,
    _number,
    dashboard_html,
    gateway_status,
    gateway_urls,
    merge_pages,
    page_response,
    tap_sends,
)
from streams.web.timeseries import (
    TRANSITIONS_KEPT,
    CameraSample,
    FleetHistory,
    LatestFrames,
    Rates,
    SeriesRing,
    TransitionPoint,
    select,
    summary,
    transition_point,
)


def test_ring_keeps_the_last_points_in_order() -> None:
    ring = SeriesRing(3)
    assert ring.columns() == ([], [], [], [], [])
    for i in range(5):
        ring.append(float(i), i * 10.0, i * 100.0, 0.0, 2.0)
    assert len(ring) == 3
    t, fps, p95, _errors, state = ring.columns()
    assert t == [2.0, 3.0, 4.0]
    assert fps == [20.0, 30.0, 40.0]
    assert p95 == [200.0, 300.0, 400.0]
    assert state == [2.0, 2.0, 2.0]
    assert ring.columns(since=3.0)[0] == [4.0]
    assert ring.last_t() == 4.0


def test_ring_refuses_no_capacity() -> None:
    with pytest.raises(ValueError):
        SeriesRing(0)


def test_history_is_bounded_by_window_and_counts_errors_per_interval() -> None:
    history = FleetHistory(window_s=60, interval_s=5)
    assert history.capacity == 13
    for i in range(40):
        errors = 3 * i if i >= 30 else 0
        history.sample(i * 5.0, [CameraSample("a", 2.0, 10.0, errors, "CLOSED")])
    series = history.series("a")
    assert len(series["t"]) == history.capacity
    assert series["t"][-1] == 195.0
    assert series["errors"] == [0.0] * 3 + [90.0] + [3.0] * 9  # i = 27..39
    assert history.series("unknown")["t"] == []


def test_history_first_sample_has_no_errors_and_state_codes() -> None:
    history = FleetHistory(window_s=60, interval_s=5)
    history.sample(0.0, [CameraSample("a", 1.0, 1.0, 17, "OPEN")])
    history.sample(5.0, [CameraSample("a", 1.0, 1.0, 20, "HALF_OPEN")])
    series = history.series("a")
    assert series["errors"] == [0.0, 3.0]
    assert series["state"] == [2.0, 1.0]


def test_history_forgets_cameras_not_sampled_for_a_window() -> None:
    history = FleetHistory(window_s=10, interval_s=1)
    history.sample(0.0, [CameraSample("gone", 1.0, 1.0, 0, "CLOSED")])
    history.add_transition("gone", TransitionPoint(0.0, "CLOSED", "OPEN", "forced"))
    history.sample(11.0, [CameraSample("here", 1.0, 1.0, 0, "CLOSED")])
    assert "gone" not in history.rings
    assert history.timeline("gone") == []
    assert "here" in history.rings


def test_history_caps_cameras() -> None:
    history = FleetHistory(window_s=10, interval_s=1, max_cameras=2)
    n = history.sample(0.0, [CameraSample(c, 1.0, 1.0, 0, "CLOSED") for c in "abc"])
    assert n == 2
    assert sorted(history.rings) == ["a", "b"]


def test_transitions_are_bounded() -> None:
    history = FleetHistory(window_s=10, interval_s=1)
    for i in range(TRANSITIONS_KEPT + 5):
        history.add_transition("a", TransitionPoint(float(i), "CLOSED", "OPEN", "x"))
    timeline = history.timeline("a")
    assert len(timeline) == TRANSITIONS_KEPT
    assert timeline[0].at == 5.0


def test_transitions_are_kept_once_in_time_order_and_age_out() -> None:
    history = FleetHistory(window_s=100, interval_s=1)
    late = TransitionPoint(50.0, "OPEN", "HALF_OPEN", "recovery_timeout")
    early = TransitionPoint(10.0, "CLOSED", "OPEN", "failure_threshold")
    assert history.add_transition("a", late)
    assert history.add_transition("a", early)  # read back from the topic after a restart
    assert not history.add_transition("a", late)
    assert history.timeline("a") == [early, late]
    history.sample(149.0, [])
    assert history.timeline("a") == [early, late]
    history.sample(151.0, [])  # every transition older than the window: gone
    assert history.timeline("a") == []


def test_transition_point_reads_the_avro_record() -> None:
    record = {"from_state": "CLOSED", "to_state": "OPEN", "reason": "forced", "at": 1_500}
    assert transition_point(record) == TransitionPoint(1.5, "CLOSED", "OPEN", "forced")


def test_rates_from_counters() -> None:
    history = FleetHistory(window_s=10, interval_s=1)
    counters: dict[str, float] = {"frames.fail_closed": 0, "deadletter.bad": 1}
    assert history.count_rates(0.0, counters).deadletter_per_s == 0.0
    counters = {
        "frames.fail_closed": 4,
        "deadletter.bad": 5,
        "deadletter.key": 2,
        "frames.anonymized": 20,
    }
    rates = history.count_rates(2.0, counters)
    assert rates.fail_closed_per_s == 2.0
    assert rates.deadletter_per_s == 3.0
    assert rates.anonymized_per_s == 10.0


def test_latest_frames_keep_a_byte_budget() -> None:
    frames = LatestFrames(max_bytes=10)
    frames.put("a", b"1234")
    frames.put("b", b"1234")
    first = frames.version("a")
    frames.put("a", b"12345")  # replaces a's frame; newer version
    assert frames.version("a") != first
    assert frames.bytes == 9
    frames.put("c", b"12")  # over budget: b, updated longest ago, goes
    assert frames.get("b") is None
    assert frames.get("a") is not None
    assert frames.get("c") is not None
    frames.put("huge", b"x" * 11)
    assert frames.get("huge") is None
    assert frames.bytes <= 10


def _row(camera_id: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "camera_id": camera_id,
        "org_id": None,
        "online": True,
        "state": "CLOSED",
        "last_seen": 1.0,
        "fps": 1.0,
        "p95_ms": 1.0,
        "errors": 0,
        "frames": 0,
        "trips": 0,
        "preview": None,
    }
    row.update(fields)
    return row


ROWS = [
    _row("cam-1", org_id="acme", fps=5.0),
    _row("cam-2", online=False, state="OPEN", fps=0.0, last_seen=None),
    _row("cam-3", org_id="other", state="HALF_OPEN", fps=2.5, errors=7),
    _row("door-4", org_id="acme", errors=2),
]


def test_summary_counts_the_fleet() -> None:
    assert summary(ROWS) == {
        "cameras": 4,
        "online": 3,
        "offline": 1,
        "closed": 2,
        "open": 1,
        "half_open": 1,
        "fps": 8.5,
    }


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["camera_id"]) for r in rows]


def test_select_searches_filters_sorts_and_pages() -> None:
    assert select(ROWS, q="ACME")[1] == 2
    assert ids(select(ROWS, q="door")[0]) == ["door-4"]
    assert ids(select(ROWS, state="offline")[0]) == ["cam-2"]
    assert ids(select(ROWS, state="half_open")[0]) == ["cam-3"]
    assert ids(select(ROWS, state="open")[0]) == ["cam-2"]
    assert select(ROWS, state="nonsense")[1] == 4  # unknown filter: all
    assert ids(select(ROWS, sort="errors", order="desc")[0])[:2] == ["cam-3", "door-4"]
    assert ids(select(ROWS, sort="last_seen")[0])[0] == "cam-2"  # never seen first
    assert ids(select(ROWS, sort="nonsense")[0]) == ["cam-1", "cam-2", "cam-3", "door-4"]
    page, matched = select(ROWS, offset=1, limit=2)
    assert (ids(page), matched) == (["cam-2", "cam-3"], 4)
    assert select(ROWS, offset=-5, limit=0)[0] == ROWS[:1]
    assert select(ROWS, offset=10**9)[0] == []
    many = [_row(f"c{i:05d}") for i in range(MAX_PAGE + 10)]
    assert len(select(many, limit=10**6)[0]) == MAX_PAGE


def test_query_parsing() -> None:
    assert _int({}, "limit", 50) == 50
    assert _int({"limit": "-3"}, "limit", 50) == -3
    with pytest.raises(BadQueryError):
        _int({"limit": "x"}, "limit", 50)
    assert _number({"since": "1.5"}, "since") == 1.5
    assert _number({"since": "nan"}, "since") is None
    with pytest.raises(BadQueryError):
        _number({"since": "soon"}, "since")


def test_merge_pages_sums_rates_and_keeps_one_row_per_camera() -> None:
    a = {"cameras": [ROWS[0], ROWS[1]], "summary": {"deadletter_per_s": 1.0}}
    b = {"cameras": [ROWS[1], ROWS[2]], "summary": {"deadletter_per_s": 2.0}}
    rows, rates = merge_pages([a, b])
    assert [r["camera_id"] for r in rows] == ["cam-1", "cam-2", "cam-3"]
    assert rates.deadletter_per_s == 3.0
    stale = {"cameras": [_row("cam-1", last_seen=0.5, fps=0.0)], "summary": {}}
    fresh = {"cameras": [_row("cam-1", last_seen=9.0, fps=3.0)], "summary": {}}
    for order in ([stale, fresh], [fresh, stale]):
        assert merge_pages(order)[0][0]["fps"] == 3.0  # the row seen latest wins


def _state() -> DashboardState:
    cg = SimpleNamespace(settings=Settings(), tables=SimpleNamespace(by_name={}), counters={})
    return DashboardState(cast(CamguardApp, cg), clock=lambda: 100.0)


def test_page_response_pages_and_a_workers_local_answer_is_whole() -> None:
    rows = [_row(f"c{i:04d}", preview=i) for i in range(MAX_PAGE + 5)]
    rates = Rates(deadletter_per_s=2.0)
    page = page_response(rows, rates, {"limit": "10", "offset": "3"}, False, _state())
    assert [c.camera_id for c in page.cameras] == [f"c{i:04d}" for i in range(3, 13)]
    assert (page.matched, page.offset, page.limit) == (len(rows), 3, 10)
    assert page.summary.deadletter_per_s == 2.0
    assert page.summary.cameras == len(rows)
    whole = page_response(rows[::-1], rates, {"q": "nothing"}, False, _state(), whole=True)
    assert len(whole.cameras) == len(rows) == whole.limit == whole.matched
    assert whole.cameras[0].camera_id == "c0000"
    with pytest.raises(BadQueryError):
        page_response(rows, rates, {"offset": "x"}, False, _state())


def test_gateway_urls() -> None:
    assert gateway_urls("") == []
    assert gateway_urls(" http://a:1/ , http://b:2") == ["http://a:1", "http://b:2"]


def test_gateway_status() -> None:
    async def down(url: str) -> tuple[int, Any]:
        raise OSError("refused")

    async def wrong(url: str) -> tuple[int, Any]:
        return 200, {"memory_queue_size": "many"}

    async def missing(url: str) -> tuple[int, Any]:
        return 404, None

    async def check() -> None:
        status = await gateway_status(down, "http://gw")
        assert not status.ok
        assert "refused" in (status.error or "")
        assert not (await gateway_status(wrong, "http://gw")).ok
        assert (await gateway_status(missing, "http://gw")).error == "HTTP 404"

    asyncio.run(check())


def test_tap_calls_the_observer_after_each_send_and_survives_it() -> None:
    seen: list[tuple[Any, Any]] = []

    class Topic:
        async def send(self, key: Any = None, value: Any = None) -> str:
            return "sent"

    topic = Topic()
    tap_sends(topic, lambda k, v: seen.append((k, v)))

    def broken(key: Any, value: Any) -> None:
        raise RuntimeError("observer bug")

    other = Topic()
    tap_sends(other, broken)

    async def check() -> None:
        assert await topic.send(key=b"a", value=b"1") == "sent"
        assert await other.send(key=b"a", value=b"1") == "sent"

    asyncio.run(check())
    assert seen == [(b"a", b"1")]


def test_page_inlines_uplot_or_says_charts_are_unavailable(tmp_path: Path) -> None:
    (tmp_path / "uPlot.iife.min.js").write_text("var uPlot = function(){};")
    (tmp_path / "uPlot.min.css").write_text(".uplot{}")
    with_charts = dashboard_html((tmp_path,))
    assert "var uPlot = function(){};" in with_charts
    assert "/*UPLOT_JS*/" not in with_charts
    without = dashboard_html((tmp_path / "none",))
    assert "uPlot" in without
    assert "var uPlot" not in without
    assert "Charts unavailable" in without
    for page in (with_charts, without):
        assert "http://" not in page
        assert "https://" not in page


def test_sampler_reads_the_camera_tables() -> None:
    from streams.resilience.breaker import BreakerState, State
    from streams.resilience.health import HealthState
    from streams.resilience.serde import breaker_to_dict, health_to_dict
    from streams.resilience.tables import CameraTables

    clock = [1000.0]
    cg = SimpleNamespace(
        settings=Settings(dashboard_sample_s=1.0),
        tables=SimpleNamespace(by_name={}),
        counters={"frames.anonymized": 0},
    )
    state = DashboardState(cast(CamguardApp, cg), clock=lambda: clock[0])
    health = {
        f"cam-{i}".encode(): health_to_dict(
            HealthState(f"cam-{i}", org_id="o", errors_count=i, last_seen=999.0)
        )
        for i in range(300)  # more than a chunk: the loop gets turns
    }
    breakers = {b"cam-7": breaker_to_dict(BreakerState(state=State.OPEN, retry_at=5000.0))}
    state._tables = CameraTables(breakers, health)

    async def run() -> None:
        assert await state.sample() == 300
        clock[0] += 1.0
        cg.counters["frames.anonymized"] = 10
        assert await state.sample() == 300

    asyncio.run(run())
    series = state.history.series("cam-7")
    assert series["t"] == [1000.0, 1001.0]
    assert series["state"] == [2.0, 2.0]
    assert state.history.rates.anonymized_per_s == 10.0
    rows = {r["camera_id"]: r for r in state._rows[1]} if state._rows else {}
    assert rows["cam-7"]["state"] == "OPEN"
    assert rows["cam-3"]["org_id"] == "o"
    assert state.series(["cam-7", "unknown"], since=1000.0)[0]["t"] == [1001.0]
