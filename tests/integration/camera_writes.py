"""One ``cameras`` write scenario, run through every health store against real PostgreSQL.

The Postgres store (asyncpg) and the Supabase store (supabase-py ``rpc`` through a PostgREST
stand-in) must leave the same rows: registered cameras updated with metadata merged, an older
snapshot ignored, unknown cameras reported and never inserted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from streams.resilience.breaker import State
from streams.resilience.health import HealthSnapshot
from streams.store.base import CameraUpdate, HealthStore

T0 = 1_700_000_000.0
SPEC_KEYS = {"frames_processed", "errors_count", "avg_latency_ms", "circuit_breaker_state"}


def snap(camera_id: str, at: float, frames: int, **kw: Any) -> HealthSnapshot:
    fields: dict[str, Any] = {
        "camera_id": camera_id,
        "org_id": None,
        "online": True,
        "last_seen": at - 1,
        "frames_processed": frames,
        "errors_count": 1,
        "avg_latency_ms": 12.5,
        "p95_latency_ms": 30.0,
        "fps": 5.0,
        "circuit_breaker_state": State.OPEN,
        "observed_at": at,
        **kw,
    }
    return HealthSnapshot(**fields)


async def register_cameras(dsn: str, prefix: str, names: dict[str, dict[str, Any]]) -> str:
    """Insert an organisation and its cameras (``{suffix: metadata}``) as the platform would;
    return the organisation's id."""
    org = str(uuid.uuid4())
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("insert into public.orgs (id, name) values ($1, 'Acme')", org)
        for suffix, metadata in names.items():
            await conn.execute(
                "insert into public.cameras (id, org_id, name, metadata) "
                "values ($1, $2, 'Gate', $3::jsonb)",
                prefix + suffix,
                org,
                json.dumps(metadata),
            )
    finally:
        await conn.close()
    return org


async def camera_rows(dsn: str, prefix: str) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetch("select * from public.cameras where id like $1", prefix + "%")
    finally:
        await conn.close()
    return {r["id"]: {**dict(r), "metadata": json.loads(r["metadata"])} for r in found}


async def check_camera_writes(store: HealthStore, dsn: str) -> None:
    """The scenario: merge, staleness guard, no row for an unknown camera."""
    prefix = f"w-{uuid.uuid4().hex[:8]}-"
    org = await register_cameras(dsn, prefix, {"a": {"firmware": "1.2"}, "b": {}})
    a, b, ghost = prefix + "a", prefix + "b", prefix + "ghost"
    health_b = snap(b, T0 + 10, 3, online=False, circuit_breaker_state=State.HALF_OPEN)
    first = await store.update_cameras(
        [snap(a, T0 + 10, 10), health_b, snap(ghost, T0 + 10, 1), snap(a, T0 + 8, 8)]
    )  # a's older snapshot in the same batch is dropped
    late = await store.update_cameras([snap(a, T0 + 5, 5, online=False)])  # a late retry
    again = await store.update_cameras([health_b])  # a replay writes the same values again
    await store.close()

    assert first == CameraUpdate(updated=(a, b), stale=(), unknown=(ghost,))
    assert late == CameraUpdate(updated=(), stale=(a,), unknown=())
    assert again.updated == (b,)
    rows = await camera_rows(dsn, prefix)
    assert set(rows) == {a, b}, "no row is invented for an unknown camera"
    meta_a, meta_b = rows[a]["metadata"], rows[b]["metadata"]
    assert set(meta_a) >= SPEC_KEYS
    assert meta_a["firmware"] == "1.2", "keys the platform keeps in metadata survive"
    assert (meta_a["frames_processed"], meta_a["circuit_breaker_state"]) == (10, "open")
    assert (meta_a["errors_count"], meta_a["avg_latency_ms"]) == (1, 12.5)
    assert meta_b["circuit_breaker_state"] == "half_open"
    assert (rows[a]["online"], rows[b]["online"]) == (True, False)
    assert rows[a]["last_seen"].timestamp() == T0 + 9
    assert (rows[a]["name"], str(rows[a]["org_id"])) == ("Gate", org), "other columns untouched"
