"""Session-wide service fixtures: a real Kafka broker and a real PostgreSQL.

``KAFKA_BOOTSTRAP_SERVERS`` / ``CAMGUARD_TEST_PG_DSN`` win; else testcontainers where a Docker
daemon answers; else the local scripts under infra/ (see streams/devstack.py).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


# The input topics every worker of a fresh consumer group would otherwise read from the start.
INPUT_TOPICS = ("camera.frames", "camera.events")


@pytest.fixture(autouse=True)
def truncate_input_topics(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the session's own broker, drop what it left on the input topics.

    Each integration test starts its workers in a fresh consumer group, which reads
    ``camera.frames`` and ``camera.events`` from the log start: without this, a test late in
    the suite first anonymizes every frame and folds every event earlier tests produced
    (minutes of CPU on a 2-core machine, and the timeouts CI saw). Kafka's DeleteRecords moves
    the log start to the current end, as retention would. A broker given by
    ``KAFKA_BOOTSTRAP_SERVERS`` is not ours to truncate and is left alone.
    """
    yield
    if "kafka_bootstrap" not in request.fixturenames:
        return
    choice = choose_backend(os.environ, "KAFKA_BOOTSTRAP_SERVERS", docker_available(os.environ))
    if choice.backend is Backend.ENVIRONMENT:
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever the test's loop did
        pool.submit(asyncio.run, _truncate(bootstrap, INPUT_TOPICS)).result(timeout=60)


async def _truncate(bootstrap: str, topics: tuple[str, ...]) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        present = [t for t in topics if t in set(await admin.list_topics())]
        described = await admin.describe_topics(present) if present else []
        partitions = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in described
            for part in topic["partitions"]
        ]
        if not partitions:
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        wanted = {tp: RecordsToDelete(before_offset=end) for tp, end in ends.items() if end}
        if wanted:
            await admin.delete_records(wanted)
    finally:
        await admin.close()
