"""Topics are created with the partitions and cleanup policies of docs/architecture.md."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.app import topic_specs
from streams.settings import Settings
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration


async def test_topics_have_their_cleanup_policy_and_partitions(kafka_bootstrap: str) -> None:
    settings = Settings(broker=f"kafka://{kafka_bootstrap}")
    await ensure_topics(settings)
    assert await ensure_topics(settings) == []  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        names = [spec.name for spec in topic_specs(settings)]
        described = await admin.describe_topics(names)
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    policies: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            policies[name] = next(e[1] for e in entries if e[0] == "cleanup.policy")
    assert policies["camera.health"] == "compact"
    assert policies["service.policies"] == "compact"
    for name in ("camera.frames", "camera.events", "camguard.deadletter", "service.policies.audit"):
        assert policies[name] == "delete"
    # Frames and events must be co-partitioned with the camera tables.
    assert partitions["camera.frames"] == partitions["camera.events"] == settings.topic_partitions
