"""Create camguard's topics with the partitions and cleanup policies of docs/architecture.md."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.contract import TopicSpec, topic_specs
from streams.kafka_security import aiokafka_kwargs
from streams.settings import Settings

log = logging.getLogger(__name__)


def topic_config(spec: TopicSpec) -> dict[str, str]:
    """Broker-side topic configs for ``spec``."""
    config = {"cleanup.policy": "compact" if spec.compacted else "delete"}
    if spec.compacted:
        # Small segments and a low dirty ratio so compaction is visible in a dev stack.
        config.update({"segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"})
    if spec.retention_ms is not None:
        config["retention.ms"] = str(spec.retention_ms)
    config["max.message.bytes"] = str(16 * 1024 * 1024)
    return config


async def ensure_topics(settings: Settings, specs: Sequence[TopicSpec] | None = None) -> list[str]:
    """Create the missing topics of ``specs`` (default: every contract topic).

    Returns the names that were created.
    """
    specs = topic_specs(settings) if specs is None else specs
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **aiokafka_kwargs(settings)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=spec.name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=topic_config(spec),
            )
            for spec in specs
            if spec.name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        return [t.name for t in wanted]
    finally:
        await admin.close()
