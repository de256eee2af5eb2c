"""The Postgres health store (asyncpg): one call of ``public.camguard_publish_health`` per batch.

The SQL function (migration 0003) is the one the Supabase store reaches through PostgREST, so
both write ``cameras`` alike: an UPDATE of registered cameras, ``metadata`` merged, an older
snapshot ignored, unknown cameras reported. The pool is made lazily and dropped after a
connection error, so a database that restarts is reconnected to on the next call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

import asyncpg

from streams.resilience.health import HealthSnapshot
from streams.store.base import MISSING_FUNCTION, PUBLISH_FUNCTION, CameraUpdate, publish_argument
from streams.store.exceptions import StoreRejectedError, StoreUnavailableError

log = logging.getLogger(__name__)

PUBLISH_SQL = f"select public.{PUBLISH_FUNCTION}($1::jsonb)::text"

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
    """Updates health rows through an asyncpg pool."""

    def __init__(self, dsn: str, *, timeout_s: float = 10.0, max_connections: int = 2) -> None:
        self._dsn = dsn
        self._timeout = timeout_s
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None

    async def update_cameras(self, snapshots: Sequence[HealthSnapshot]) -> CameraUpdate:
        argument = publish_argument(snapshots)
        if not argument:
            return CameraUpdate()
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._timeout) as conn:
                answer = await conn.fetchval(
                    PUBLISH_SQL, json.dumps(argument), timeout=self._timeout
                )
        except _TRANSIENT as exc:
            await self._drop_pool()
            raise StoreUnavailableError(f"postgres unavailable: {exc!r}") from exc
        except asyncpg.exceptions.UndefinedFunctionError as exc:
            raise StoreRejectedError(f"{MISSING_FUNCTION}: {exc}") from exc
        except asyncpg.PostgresError as exc:
            raise StoreRejectedError(f"postgres refused the rows: {exc!r}") from exc
        return CameraUpdate.from_json(json.loads(answer))

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
