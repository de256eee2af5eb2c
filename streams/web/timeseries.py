"""The dashboard's memory: bounded per-camera history, breaker timelines, fleet rates, the
latest anonymized frame per camera, and the table's search, filter, sort and paging.

Pure (no Faust, no I/O). The worker feeds it from what it already computes: a timer samples
the camera_health and breakers tables every ``CAMGUARD_DASHBOARD_SAMPLE_S``
(:meth:`FleetHistory.sample`), breaker transitions and anonymized frames are recorded as the
worker sends them. Every structure has a fixed bound: a ring of ``window / interval`` points
per camera (three ``array('d')`` columns and a time column, 5.8 kB a camera at the defaults),
the last :data:`TRANSITIONS_KEPT` transitions per camera, and a byte budget for frames.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from streams.contract.worker_http import MAX_PAGE

#: Breaker transitions kept per camera for its timeline.
TRANSITIONS_KEPT = 64
#: The table's filters (``state=``): a camera's status or its breaker's effective state.
STATE_FILTERS = ("online", "offline", "closed", "open", "half_open")
#: The table's sort keys (``sort=``), each a field of a row.
SORT_KEYS = (
    "camera_id",
    "org_id",
    "online",
    "state",
    "fps",
    "p95_ms",
    "errors",
    "frames",
    "last_seen",
    "trips",
)

#: Breaker states as numbers in a series (a chart's y value).
STATE_CODES = {"CLOSED": 0.0, "HALF_OPEN": 1.0, "OPEN": 2.0}


class SeriesRing:
    """The last ``capacity`` points of one camera: t, fps, p95 ms, errors in the interval and
    breaker state (:data:`STATE_CODES`)."""

    __slots__ = ("_columns", "_next", "_size", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._columns = tuple(array("d", bytes(8 * capacity)) for _ in range(5))
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, t: float, fps: float, p95_ms: float, errors: float, state: float) -> None:
        """Add a point, overwriting the oldest once full."""
        i = self._next
        for column, value in zip(self._columns, (t, fps, p95_ms, errors, state), strict=True):
            column[i] = value
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def last_t(self) -> float | None:
        """Time of the newest point (None when empty)."""
        return self._columns[0][(self._next - 1) % self.capacity] if self._size else None

    def columns(self, since: float | None = None) -> tuple[list[float], ...]:
        """``(t, fps, p95_ms, errors, state)`` oldest first (after ``since`` if given)."""
        start = (self._next - self._size) % self.capacity
        order = [(start + k) % self.capacity for k in range(self._size)]
        if since is not None:
            t = self._columns[0]
            order = [i for i in order if t[i] > since]
        return tuple([column[i] for i in order] for column in self._columns)


@dataclass(frozen=True)
class CameraSample:
    """What the sampler reads of one camera: its health snapshot's figures."""

    camera_id: str
    fps: float
    p95_ms: float
    errors_count: int
    state: str
    """The breaker's effective state: CLOSED, HALF_OPEN or OPEN."""


@dataclass(frozen=True)
class TransitionPoint:
    """One breaker transition (from ``camera.breaker.transitions`` records)."""

    at: float
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True)
class Rates:
    """Fleet rates over the last sampling interval (per second)."""

    fail_closed_per_s: float = 0.0
    deadletter_per_s: float = 0.0
    anonymized_per_s: float = 0.0


class FleetHistory:
    """Per-camera rings, transitions and fleet rates, all bounded."""

    def __init__(self, window_s: float, interval_s: float, max_cameras: int = 100_000) -> None:
        if window_s <= 0 or interval_s <= 0:
            raise ValueError("window_s and interval_s must be positive")
        self.window_s = window_s
        self.interval_s = interval_s
        self.capacity = max(2, math.ceil(window_s / interval_s) + 1)
        self.max_cameras = max_cameras
        self.rings: dict[str, SeriesRing] = {}
        self.transitions: dict[str, deque[TransitionPoint]] = {}
        self._errors_seen: dict[str, int] = {}
        self._counters: tuple[float, Mapping[str, float]] | None = None
        self.rates = Rates()

    def sample(self, t: float, cameras: Iterable[CameraSample]) -> int:
        """Append a point per camera at ``t``; errors are the errors_count delta since the
        camera's previous sample (0 the first time). Cameras not sampled for a whole window
        (moved to another worker, or gone) are forgotten. Returns how many were sampled."""
        n = 0
        for cam in cameras:
            ring = self.rings.get(cam.camera_id)
            if ring is None:
                if len(self.rings) >= self.max_cameras:
                    continue
                ring = self.rings[cam.camera_id] = SeriesRing(self.capacity)
            before = self._errors_seen.get(cam.camera_id, cam.errors_count)
            self._errors_seen[cam.camera_id] = cam.errors_count
            errors = float(max(0, cam.errors_count - before))
            ring.append(t, cam.fps, cam.p95_ms, errors, STATE_CODES.get(cam.state, 0.0))
            n += 1
        oldest = t - self.window_s
        stale = [c for c, r in self.rings.items() if (r.last_t() or 0.0) < oldest]
        for camera_id in stale:
            self.forget(camera_id)
        for camera_id in [c for c, d in self.transitions.items() if d and d[-1].at < oldest]:
            del self.transitions[camera_id]  # cameras of other workers, read from the topic
        return n

    def forget(self, camera_id: str) -> None:
        self.rings.pop(camera_id, None)
        self._errors_seen.pop(camera_id, None)
        self.transitions.pop(camera_id, None)

    def count_rates(self, t: float, counters: Mapping[str, float]) -> Rates:
        """Fleet rates from process counters (``frames.fail_closed``, ``deadletter.*``,
        ``frames.anonymized``) since the previous call."""
        totals = {
            "fail_closed": float(counters.get("frames.fail_closed", 0)),
            "anonymized": float(counters.get("frames.anonymized", 0)),
            "deadletter": float(sum(v for k, v in counters.items() if k.startswith("deadletter."))),
        }
        previous, self._counters = self._counters, (t, totals)
        if previous is not None and t > previous[0]:
            dt = t - previous[0]

            def rate(name: str) -> float:
                return max(0.0, totals[name] - previous[1][name]) / dt

            self.rates = Rates(rate("fail_closed"), rate("deadletter"), rate("anonymized"))
        return self.rates

    def add_transition(self, camera_id: str, point: TransitionPoint) -> bool:
        """Keep ``point`` (in time order; one already held is not kept twice)."""
        found = self.transitions.get(camera_id)
        if found is None:
            if len(self.transitions) >= self.max_cameras:
                return False
            found = self.transitions[camera_id] = deque(maxlen=TRANSITIONS_KEPT)
        if point in found:
            return False
        if found and found[-1].at > point.at:  # read from the topic after some were recorded
            ordered = sorted([*found, point], key=lambda p: p.at)
            found.clear()
            found.extend(ordered)
        else:
            found.append(point)
        return True

    def series(self, camera_id: str, since: float | None = None) -> dict[str, list[float]]:
        """The camera's points after ``since`` as JSON columns, rounded to 3 decimals (a third
        of the bytes; empty lists if unknown)."""
        ring = self.rings.get(camera_id)
        if ring is None:
            return {"t": [], "fps": [], "p95_ms": [], "errors": [], "state": []}
        t, fps, p95, errors, state = (
            [round(v, 3) for v in column] for column in ring.columns(since)
        )
        return {"t": t, "fps": fps, "p95_ms": p95, "errors": errors, "state": state}

    def timeline(self, camera_id: str) -> list[TransitionPoint]:
        return list(self.transitions.get(camera_id, ()))


def transition_point(record: Mapping[str, Any]) -> TransitionPoint:
    """A ``BreakerTransition`` record (Avro primitives: ``at`` in epoch ms) as a point."""
    return TransitionPoint(
        at=float(record["at"]) / 1000.0,
        from_state=str(record["from_state"]),
        to_state=str(record["to_state"]),
        reason=str(record["reason"]),
    )


class LatestFrames:
    """The newest encoded ``AnonymizedFrame`` per camera within ``max_bytes``; the cameras
    updated longest ago give way first. Storing is a dict assignment (the frames path's cost);
    decoding and drawing happen only when a preview is asked for."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._frames: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, camera_id: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        old = self._frames.pop(camera_id, None)
        if old is not None:
            self.bytes -= len(old[1])
        self._seq += 1
        self._frames[camera_id] = (self._seq, value)
        self.bytes += len(value)
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._frames.popitem(last=False)
            self.bytes -= len(dropped)

    def get(self, camera_id: str) -> tuple[int, bytes] | None:
        """``(version, encoded frame)``; the version changes with every new frame."""
        return self._frames.get(camera_id)

    def version(self, camera_id: str) -> int | None:
        found = self._frames.get(camera_id)
        return None if found is None else found[0]


# --- the table: rows, summary, search / filter / sort / page ------------------------------

Row = dict[str, Any]
"""One camera as the table shows it: camera_id, org_id, online, state, last_seen (epoch s or
None), fps, p95_ms, errors, frames, trips, preview (version or None)."""


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Fleet counts of ``rows``: cameras online/offline, breakers by state, frames/s."""
    states = {"CLOSED": 0, "OPEN": 0, "HALF_OPEN": 0}
    online = 0
    fps = 0.0
    for row in rows:
        online += bool(row["online"])
        states[row["state"]] = states.get(row["state"], 0) + 1
        fps += float(row["fps"])
    return {
        "cameras": len(rows),
        "online": online,
        "offline": len(rows) - online,
        "closed": states["CLOSED"],
        "open": states["OPEN"],
        "half_open": states["HALF_OPEN"],
        "fps": round(fps, 3),
    }


def _matches(row: Row, needle: str, state: str) -> bool:
    if (
        needle
        and needle not in row["camera_id"].lower()
        and needle not in (row["org_id"] or "").lower()
    ):
        return False
    if state == "online":
        return bool(row["online"])
    if state == "offline":
        return not row["online"]
    if state in ("closed", "open", "half_open"):
        return bool(row["state"] == state.upper())
    return True


def _sort_key(key: str) -> Any:
    if key in ("camera_id", "org_id", "state"):
        return lambda row: (row[key] or "", row["camera_id"])
    if key == "online":
        return lambda row: (bool(row["online"]), row["camera_id"])
    # numbers, None (never seen) first
    return lambda row: (row[key] is not None, row[key] or 0.0, row["camera_id"])


def select(
    rows: Iterable[Row],
    q: str = "",
    state: str = "",
    sort: str = "camera_id",
    order: Literal["asc", "desc"] | str = "asc",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Row], int]:
    """The page of ``rows`` matching search ``q`` (camera or org id, case-insensitive
    substring) and ``state`` (:data:`STATE_FILTERS`; anything else: no filter), sorted by
    ``sort`` (:data:`SORT_KEYS`; anything else: camera_id) in ``order``; and how many matched.
    ``offset`` and ``limit`` are clamped to ``[0, matched]`` and ``[1, MAX_PAGE]``."""
    needle = q.strip().lower()
    wanted = state.strip().lower()
    matched = [row for row in rows if _matches(row, needle, wanted)]
    key = sort if sort in SORT_KEYS else "camera_id"
    matched.sort(key=_sort_key(key), reverse=order == "desc")
    size = min(max(limit, 1), MAX_PAGE)
    start = min(max(offset, 0), len(matched))
    return matched[start : start + size], len(matched)
