"""Create the changelog topics of the ``breakers`` and ``camera_health`` tables ahead of time.

Faust creates a table's changelog topic when the worker starts and joins the consumer group
right after; on a fresh broker the topic can be missing from the metadata the group leader
sees, and Faust then leaves its partitions out of the assignment ("Ignoring missing topic")
until the next rebalance, so the tables look empty. Creating them first (``camguard kafka
topics`` or a deployment step) avoids that race.
"""

from __future__ import annotations

from streams.contract import TopicSpec
from streams.resilience.tables import BREAKERS, CAMERA_HEALTH
from streams.settings import Settings
from streams.topics import ensure_topics


def changelog_topic_specs(settings: Settings) -> list[TopicSpec]:
    """The two changelog topics, named as Faust names them (``<app_id>-<table>-changelog``)."""
    return [
        TopicSpec(f"{settings.app_id}-{table}-changelog", compacted=True)
        for table in (BREAKERS, CAMERA_HEALTH)
    ]


async def ensure_changelog_topics(settings: Settings) -> list[str]:
    """Create the missing changelog topics; return the names that were created."""
    return await ensure_topics(settings, changelog_topic_specs(settings))
