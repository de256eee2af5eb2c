#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from the Debian binaries, for development and tests.
#
#   infra/postgres/pg.sh start [--port P] [--dir D]   # initdb into D, start, apply migrations
#   infra/postgres/pg.sh stop  [--dir D]
#   infra/postgres/pg.sh dsn   [--port P]
#
# Trust authentication on 127.0.0.1 only; the cluster lives in D (default a temp folder under
# $CAMGUARD_CACHE/run). Migrations: infra/supabase/migrations/*.sql in name order.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
migrations="$here/../supabase/migrations"
cache="${CAMGUARD_CACHE:-$HOME/.cache/camguard}"
port="${PG_PORT:-54329}"
dir="${PG_DIR:-}"

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return
  fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$d" ] || die "PostgreSQL server binaries not found: apt-get install -y postgresql"
  echo "$d"
}

parse() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2;;
      --dir) dir="$2"; shift 2;;
      *) die "unknown option $1";;
    esac
  done
  [ -n "$dir" ] || dir="$cache/run/pg-$port"
}

as_owner() {
  # initdb refuses to run as root: run the server as the owner of the cluster folder.
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres 2>/dev/null \
      || die "running as root needs a 'postgres' user (useradd postgres)"
    chown -R postgres "$dir"
    su postgres -s /bin/sh -c "test -x '$dir'" \
      || die "user postgres cannot reach $dir: make its parent folders world-executable (chmod o+x)"
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

start() {
  parse "$@"
  local bin; bin="$(bindir)"
  if [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "pg.sh: already running on 127.0.0.1:$port"; return 0
  fi
  if ! python3 "$here/../kafka/probe.py" free "$port"; then
    die "port $port is already taken on 127.0.0.1; choose another with --port or PG_PORT"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fresh=1
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start on port $port"; }
  if [ "${fresh:-0}" = "1" ]; then
    for f in "$migrations"/*.sql; do
      psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -f "$f" >/dev/null \
        || die "migration $(basename "$f") failed"
    done
  fi
  echo "pg.sh: PostgreSQL ready: postgresql://postgres@127.0.0.1:$port/postgres (dir $dir)"
}

stop() {
  parse "$@"
  local bin; bin="$(bindir)"
  [ -f "$dir/data/postmaster.pid" ] || { echo "pg.sh: not running"; return 0; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  echo "pg.sh: stopped"
}

case "${1:-}" in
  start) shift; start "$@";;
  stop) shift; stop "$@";;
  dsn) shift; parse "$@"; echo "postgresql://postgres@127.0.0.1:$port/postgres";;
  *) echo "usage: $0 start|stop|dsn [--port P] [--dir D]" >&2; exit 2;;
esac
