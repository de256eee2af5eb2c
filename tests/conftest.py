"""Session-wide service fixtures: a real Kafka broker and a real PostgreSQL.

``KAFKA_BOOTSTRAP_SERVERS`` / ``CAMGUARD_TEST_PG_DSN`` win; else testcontainers where a Docker
daemon answers; else the local scripts under infra/ (see streams/devstack.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.devstack import (
    MIGRATIONS_DIR,
    Backend,
    LocalKafka,
    LocalPostgres,
    choose_backend,
    docker_available,
    free_port,
)


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="camguard-services-") as tmp:
        # As root, pg.sh runs PostgreSQL as the 'postgres' user, who must reach the cluster dir.
        os.chmod(tmp, 0o755)
        yield Path(tmp)


@pytest.fixture(scope="session")
def local_kafka(services_dir: Path) -> Iterator[LocalKafka | None]:
    """The broker object when the local script runs it (None for env/testcontainers)."""
    choice = choose_backend(os.environ, "KAFKA_BOOTSTRAP_SERVERS", docker_available(os.environ))
    if choice.backend is not Backend.LOCAL:
        yield None
        return
    broker = LocalKafka(port=free_port(), run_dir=services_dir / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_kafka: LocalKafka | None) -> Iterator[str]:
    """``host:port`` of a real Kafka broker for this test session."""
    choice = choose_backend(os.environ, "KAFKA_BOOTSTRAP_SERVERS", docker_available(os.environ))
    if choice.backend is Backend.ENVIRONMENT:
        assert choice.address is not None
        yield choice.address
    elif choice.backend is Backend.TESTCONTAINERS:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        assert local_kafka is not None
        yield local_kafka.bootstrap


@pytest.fixture(scope="session")
def local_postgres(services_dir: Path) -> Iterator[LocalPostgres | None]:
    """The cluster object when the local script runs it (None for env/testcontainers)."""
    choice = choose_backend(os.environ, "CAMGUARD_TEST_PG_DSN", docker_available(os.environ))
    if choice.backend is not Backend.LOCAL:
        yield None
        return
    cluster = LocalPostgres(port=free_port(), run_dir=services_dir / "pg")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _apply_migrations(dsn: str) -> None:
    import asyncio

    import asyncpg

    async def apply() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
                await conn.execute(path.read_text())
        finally:
            await conn.close()

    asyncio.run(apply())


@pytest.fixture(scope="session")
def postgres_dsn(local_postgres: LocalPostgres | None) -> Iterator[str]:
    """DSN of a real PostgreSQL with infra/supabase/migrations applied."""
    choice = choose_backend(os.environ, "CAMGUARD_TEST_PG_DSN", docker_available(os.environ))
    if choice.backend is Backend.ENVIRONMENT:
        assert choice.address is not None
        _apply_migrations(choice.address)
        yield choice.address
    elif choice.backend is Backend.TESTCONTAINERS:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            dsn = container.get_connection_url()
            _apply_migrations(dsn)
            yield dsn
    else:
        assert local_postgres is not None
        yield local_postgres.dsn
