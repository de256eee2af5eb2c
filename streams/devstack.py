"""Local Kafka and PostgreSQL for development and tests.

Which service a test session uses is decided by :func:`choose_backend`, a pure function:
an address from the environment wins, else testcontainers where a Docker daemon answers, else
the local scripts under ``infra/`` (Kafka from Maven Central jars, the Debian PostgreSQL
binaries). The process-running classes are thin wrappers around those scripts.
"""

from __future__ import annotations

import enum
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.assets import assets_root
from streams.exceptions import CamguardError

# The checkout this module was imported from (tests and benchmarks run processes in it); the
# scripts and migrations come from streams.assets, so an installed wheel finds its own copies.
REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = assets_root() / "infra" / "kafka" / "kafka.sh"
PG_SCRIPT = assets_root() / "infra" / "postgres" / "pg.sh"
MIGRATIONS_DIR = assets_root() / "infra" / "supabase" / "migrations"


class Backend(enum.Enum):
    """Where a service for a test session comes from."""

    ENVIRONMENT = "environment"
    TESTCONTAINERS = "testcontainers"
    LOCAL = "local"


@dataclass(frozen=True)
class BackendChoice:
    backend: Backend
    address: str | None = None


def choose_backend(env: Mapping[str, str], variable: str, docker_available: bool) -> BackendChoice:
    """Pick the backend for one service: ``env[variable]`` > Docker > local scripts."""
    value = env.get(variable, "").strip()
    if value:
        return BackendChoice(Backend.ENVIRONMENT, value)
    if docker_available:
        return BackendChoice(Backend.TESTCONTAINERS)
    return BackendChoice(Backend.LOCAL)


def docker_available(env: Mapping[str, str]) -> bool:
    """True when a Docker daemon answers on its socket (not merely when the client exists)."""
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return shutil.which("docker") is not None and _docker_info_ok()
    path = host.removeprefix("unix://")
    if not os.path.exists(path):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in sock.recv(256)
    except OSError:
        return False


def _docker_info_ok() -> bool:
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevStackError(CamguardError):
    """A local service could not be started; the message says what to install or free."""

    reason = "devstack"


def _run_script(script: Path, *args: str) -> str:
    done = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DevStackError((done.stderr or done.stdout).strip() or f"{script.name} failed")
    return done.stdout.strip()


@dataclass
class LocalKafka:
    """A single-node KRaft broker started by infra/kafka/kafka.sh."""

    port: int
    run_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, keep_data: bool = False) -> str:
        args = ["start", "--port", str(self.port), "--dir", str(self.run_dir)]
        return _run_script(KAFKA_SCRIPT, *args, *(["--keep"] if keep_data else []))

    def stop(self) -> None:
        _run_script(KAFKA_SCRIPT, "stop", "--port", str(self.port), "--dir", str(self.run_dir))


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL cluster started by infra/postgres/pg.sh (migrations applied)."""

    port: int
    run_dir: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        return _run_script(PG_SCRIPT, "start", "--port", str(self.port), "--dir", str(self.run_dir))

    def stop(self) -> None:
        _run_script(PG_SCRIPT, "stop", "--port", str(self.port), "--dir", str(self.run_dir))
