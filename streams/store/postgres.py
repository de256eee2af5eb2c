"""The Postgres health store (asyncpg): one batched upsert into ``public.cameras``.

The upsert keeps the newest health: a snapshot older than the one the row holds (the
``updated_at`` inside ``metadata``, which is ours; the row's own ``updated_at`` column may be
touched by the platform), from a late retry or a worker that lost its partitions, changes
nothing. ``metadata`` is merged (``||``) so keys the platform keeps there survive; ``org_id``
is set only when that organisation exists and is never cleared. The pool is made lazily and
dropped after a connection error, so a database that restarts is reconnected to on the next
call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

import asyncpg

from streams.resilience.health import HealthSnapshot
from streams.store.base import camera_row, latest_per_camera
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError

log = logging.getLogger(__name__)

UPSERT_SQL = """
insert into public.cameras as c (id, org_id, online, last_seen, metadata, updated_at)
select r.id, o.id, r.online, r.last_seen, r.metadata::jsonb, r.updated_at
from unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::text[], $6::timestamptz[])
    as r(id, org_id, online, last_seen, metadata, updated_at)
left join public.orgs o on o.id = r.org_id
on conflict (id) do update set
    org_id = coalesce(excluded.org_id, c.org_id),
    online = excluded.online,
    last_seen = greatest(c.last_seen, excluded.last_seen),
    metadata = c.metadata || excluded.metadata,
    updated_at = excluded.updated_at
where coalesce((c.metadata ->> 'updated_at')::timestamptz, '-infinity') <= excluded.updated_at
"""

# Errors that say "the server or the connection", not "your rows".
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.QueryCanceledError,
)


class PostgresHealthStore:
    """Upserts health rows through an asyncpg pool."""

    def __init__(self, dsn: str, *, timeout_s: float = 10.0, max_connections: int = 2) -> None:
        self._dsn = dsn
        self._timeout = timeout_s
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None

    async def upsert_cameras(self, snapshots: Sequence[HealthSnapshot]) -> None:
        rows = [camera_row(s) for s in latest_per_camera(snapshots)]
        if not rows:
            return
        args = (
            [r.id for r in rows],
            [r.org_id for r in rows],
            [r.online for r in rows],
            [r.last_seen for r in rows],
            [json.dumps(r.metadata) for r in rows],
            [r.updated_at for r in rows],
        )
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._timeout) as conn:
                await conn.execute(UPSERT_SQL, *args, timeout=self._timeout)
        except _TRANSIENT as exc:
            await self._drop_pool()
            raise StoreUnavailableError(f"postgres unavailable: {exc!r}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreRejectedError(f"postgres refused the rows: {exc!r}") from exc

    async def close(self) -> None:
        await self._drop_pool()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=0, max_size=self._max, timeout=self._timeout
            )
        return self._pool

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self._timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.info("closing the postgres pool failed: %r", exc)
                pool.terminate()
