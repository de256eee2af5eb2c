"""A PostgREST stand-in for RPC: ``POST /rest/v1/rpc/<function>`` run on a real PostgreSQL.

It does what PostgREST (behind Supabase's gateway) does for a call of a function that returns
one value: the ``apikey`` header and the bearer token pick the database role (PostgREST reads
the role from the JWT; here a table maps keys to roles), the JSON body's keys are the
function's named arguments, the call runs in a transaction under that role (``set local role``)
and the answer is the function's value as JSON. Errors come back in PostgREST's shape
(``code``, ``message``, ``details``, ``hint``) with the HTTP status PostgREST gives their
SQLSTATE, and an unknown function is ``404 PGRST202``. So supabase-py's ``rpc`` really drives
the SQL function, grants and all. Set-returning functions are not served.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiohttp import web

_FIND_FUNCTION = """
select p.proargnames as names,
       array(select format_type(t, null) from unnest(p.proargtypes) as t) as types,
       p.proretset as returns_set
from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace
where n.nspname = 'public' and p.proname = $1
"""


def http_status(sqlstate: str, role: str) -> int:
    """PostgREST's HTTP status for a SQLSTATE (the classes its documentation lists)."""
    if sqlstate == "42501":  # insufficient privilege: anonymous callers get 401
        return 401 if role == "anon" else 403
    exact = {"42883": 404, "42P01": 404, "23503": 409, "23505": 409, "P0001": 400}
    if sqlstate in exact:
        return exact[sqlstate]
    by_class = {"08": 503, "53": 503, "54": 413, "28": 403, "0L": 403, "0P": 403, "25": 500}
    if sqlstate[:2] in by_class:
        return by_class[sqlstate[:2]]
    if sqlstate[:2] in {"09", "38", "39", "3B", "40", "55", "57", "58", "F0", "HV", "P0", "XX"}:
        return 500
    return 400


def _error(status: int, code: str, message: str, hint: str | None = None) -> web.Response:
    body = {"code": code, "message": message, "details": None, "hint": hint}
    return web.json_response(body, status=status)


class PostgrestRpc:
    """The aiohttp handler; ``roles`` maps an API key to the database role it stands for."""

    def __init__(self, pool: asyncpg.Pool, roles: Mapping[str, str]) -> None:
        self.pool = pool
        self.roles = dict(roles)
        self.calls: list[tuple[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("apikey", "")
        if key not in self.roles or request.headers.get("Authorization") != f"Bearer {key}":
            return _error(401, "PGRST301", "No suitable key or wrong key type")
        role = self.roles[key]
        name = request.match_info["function"]
        args = await request.json()
        if not isinstance(args, dict):
            return _error(400, "PGRST102", "Expected a JSON object of named arguments")
        self.calls.append((name, role))
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                call = await self._call_sql(conn, name, args)
                if call is None:
                    missing = f"public.{name}({', '.join(sorted(args))})"
                    message = f"Could not find the function {missing} in the schema cache"
                    return _error(404, "PGRST202", message)
                sql, values = call
                await conn.execute(f'set local role "{role}"')
                answer = await conn.fetchval(sql, *values)
        except asyncpg.PostgresError as exc:
            state = exc.sqlstate or "XX000"
            hint = getattr(exc, "hint", None)
            return _error(http_status(state, role), state, str(exc), hint)
        return web.Response(text=answer, content_type="application/json")

    @staticmethod
    async def _call_sql(
        conn: asyncpg.Connection, name: str, args: dict[str, Any]
    ) -> tuple[str, list[str]] | None:
        for found in await conn.fetch(_FIND_FUNCTION, name):
            names = list(found["names"] or [])
            if set(names) != set(args) or found["returns_set"]:
                continue
            parts, values = [], []
            for i, (arg, type_) in enumerate(zip(names, found["types"], strict=True), start=1):
                values.append(json.dumps(args[arg]))
                if type_ in ("json", "jsonb"):
                    parts.append(f'"{arg}" => ${i}::jsonb::{type_}')
                else:
                    parts.append(f"\"{arg}\" => (${i}::jsonb #>> '{{}}')::{type_}")
            return f'select to_json(public."{name}"({", ".join(parts)}))::text', values
        return None


@asynccontextmanager
async def postgrest_rpc(
    dsn: str, roles: Mapping[str, str]
) -> AsyncIterator[tuple[str, PostgrestRpc]]:
    """Serve the stand-in on a free local port: ``(base url, handler)``."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    handler = PostgrestRpc(pool, roles)
    app = web.Application()
    app.router.add_post("/rest/v1/rpc/{function}", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", handler
    finally:
        await runner.cleanup()
        await pool.close()
