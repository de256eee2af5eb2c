"""camguard's topic contract, without Faust or a Kafka client: names, keys, cleanup.

docs/architecture.md lists the same topics with their keys and records. The worker
(streams/app.py), the gateway, the policy tools and the topic creation (streams/topics.py) all
read the names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings

FRAMES = "camera.frames"
EVENTS = "camera.events"
ANONYMIZED = "camera.frames.anonymized"
HEALTH = "camera.health"
TRANSITIONS = "camera.breaker.transitions"
POLICIES = "service.policies"
POLICIES_AUDIT = "service.policies.audit"
DEADLETTER = "camguard.deadletter"


@dataclass(frozen=True)
class TopicSpec:
    """A topic of the contract in docs/architecture.md and how it is created."""

    name: str
    compacted: bool = False
    retention_ms: int | None = None


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic camguard owns, with its cleanup policy."""
    return [
        TopicSpec(FRAMES, retention_ms=settings.frames_retention_ms),
        TopicSpec(EVENTS),
        TopicSpec(ANONYMIZED, retention_ms=settings.frames_retention_ms),
        TopicSpec(HEALTH, compacted=True),
        TopicSpec(TRANSITIONS),
        TopicSpec(POLICIES, compacted=True),
        TopicSpec(POLICIES_AUDIT, retention_ms=settings.audit_retention_ms),
        TopicSpec(DEADLETTER),
    ]
