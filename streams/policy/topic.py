"""Publishing to service.policies and its audit topic; reading it through aiokafka (no Faust).

Producing accepted policy changes: records to service.policies, audit to the audit topic. The
webhook view, ``camguard policy set|delete`` and ``camguard policy sync`` all publish through
:class:`PolicyPublisher`; only the :class:`PolicySink` differs (Faust topics in a worker, an
aiokafka producer in the CLI, a list in tests).

Processes without Faust (CLI, tools) reach the topic straight through aiokafka. Reading uses
no consumer group: every partition is assigned and read from the beginning, so
each reader sees the whole compacted topic, then follows it. Writing uses an idempotent
producer with ``acks=all``. ``security`` is :func:`streams.kafka_security.aiokafka_kwargs` of the
caller's settings (TLS / SASL); None connects in PLAINTEXT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError, for_code

from streams.codec import AvroCodec
from streams.contract import POLICIES, POLICIES_AUDIT
from streams.policy.avro import CHANGE, RECORD, change_record, row_to_record
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import PolicyError
from streams.policy.resolve import PolicyRow
from streams.policy.sources import Apply
from streams.policy.webhook import AuditEntry, ChangePlan

# --- publishing accepted changes --------------------------------------------------------------


class PolicySink(Protocol):
    """Where encoded policy messages go; each call returns once the broker acknowledged."""

    async def send_policy(self, key: str, value: bytes | None) -> None: ...
    async def send_audit(self, key: str, value: bytes) -> None: ...


@dataclass
class MemoryPolicySink:
    """A sink that keeps what was sent (for tests and dry runs)."""

    policies: list[tuple[str, bytes | None]] = field(default_factory=list)
    audit: list[tuple[str, bytes]] = field(default_factory=list)

    async def send_policy(self, key: str, value: bytes | None) -> None:
        self.policies.append((key, value))

    async def send_audit(self, key: str, value: bytes) -> None:
        self.audit.append((key, value))


@dataclass
class PolicyPublisher:
    """Encodes (and encrypts) rows and audit entries, and sends them through a sink."""

    sink: PolicySink
    codec: AvroCodec
    cipher: PolicyCipher | None = None
    on_published: Callable[[str, PolicyRow | None], object] | None = None

    def encode_row(self, row: PolicyRow) -> bytes:
        return self.codec.encode(RECORD, row_to_record(row, self.cipher))

    async def publish(self, key: str, row: PolicyRow | None) -> None:
        """One record (or tombstone) on service.policies."""
        await self.sink.send_policy(key, None if row is None else self.encode_row(row))
        if self.on_published is not None:
            self.on_published(key, row)

    async def audit(self, entry: AuditEntry, actor: str, at_ms: int) -> None:
        """One ``PolicyChange`` on service.policies.audit."""
        record = change_record(
            entry.key, entry.operation, entry.old, entry.new, actor, at_ms, self.cipher
        )
        await self.sink.send_audit(entry.key, self.codec.encode(CHANGE, record))

    async def publish_plan(self, plan: ChangePlan, actor: str, at_ms: int) -> None:
        """Every record of ``plan``, then its audit entries (records first: they matter)."""
        for key, row in plan.records:
            await self.publish(key, row)
        for entry in plan.audit:
            await self.audit(entry, actor, at_ms)


# --- straight through aiokafka ----------------------------------------------------------------

POLICIES_TOPIC = POLICIES
AUDIT_TOPIC = POLICIES_AUDIT


class PolicyTopicMissingError(PolicyError):
    """service.policies does not exist on the broker; run ``camguard kafka topics``."""

    reason = "topic_missing"
    status = 503
    retriable = True


class KafkaPolicySource:
    """A :class:`~streams.policy.sources.PolicySource` over a real broker."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = POLICIES_TOPIC,
        *,
        poll_timeout_ms: int = 100,
        follow: bool = True,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = dict(security or {})
        self.topic = topic
        self.poll_timeout_ms = poll_timeout_ms
        self.follow = follow

    async def _partitions(self) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **self.security)
        await admin.start()
        try:
            [meta] = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        partitions = sorted(int(p["partition"]) for p in meta.get("partitions", []))
        error_code = int(meta.get("error_code") or 0)
        if error_code and error_code != UnknownTopicOrPartitionError.errno:
            raise for_code(error_code)(f"describing {self.topic}")  # e.g. not authorized
        if error_code or not partitions:
            raise PolicyTopicMissingError(
                f"topic {self.topic} not found; create it with `camguard kafka topics`"
            )
        return partitions

    async def _assign(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        tps = [TopicPartition(self.topic, p) for p in await self._partitions()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends: Mapping[TopicPartition, int] = await consumer.end_offsets(tps)
        return dict(ends)

    async def _caught_up(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def run(self, apply: Apply, ready: asyncio.Event) -> None:
        """Apply every message, set ``ready`` at the end offsets seen at start, then follow."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.security,
        )
        await consumer.start()
        try:
            ends = await self._assign(consumer)
            if await self._caught_up(consumer, ends):
                ready.set()
            while self.follow or not ready.is_set():
                batches = await consumer.getmany(timeout_ms=self.poll_timeout_ms)
                for messages in batches.values():
                    for message in messages:
                        apply(message.key, message.value)
                if not ready.is_set() and await self._caught_up(consumer, ends):
                    ready.set()
        finally:
            await consumer.stop()


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> list[tuple[str | None, bytes | None]]:
    """Every message of ``topic`` up to its end offsets now, in order per partition."""
    out: list[tuple[str | None, bytes | None]] = []

    def keep(key: bytes | str | None, value: bytes | None) -> None:
        out.append((key.decode("utf-8", "replace") if isinstance(key, bytes) else key, value))

    source = KafkaPolicySource(bootstrap_servers, topic, follow=False, security=security)
    await asyncio.wait_for(source.run(keep, asyncio.Event()), timeout_s)
    return out


async def topic_refusal(
    bootstrap_servers: str,
    topic: str = POLICIES_TOPIC,
    timeout_s: float = 20.0,
    security: Mapping[str, Any] | None = None,
) -> str | None:
    """Read ``topic`` to its end once and say why the broker refused it (not authorized,
    missing topic); None when it was read, or when no broker answered in time (not a refusal:
    the clients keep trying). What a worker checks before it starts."""
    try:
        await read_topic(bootstrap_servers, topic, timeout_s, security)
    except (TimeoutError, KafkaConnectionError):
        return None
    except Exception as exc:  # the broker's refusal, whatever its class: it is the answer
        return f"{type(exc).__name__}: {exc}"
    return None


async def read_policy_topic(
    bootstrap_servers: str,
    topic: str = POLICIES_TOPIC,
    timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> dict[str, bytes | None]:
    """The latest value per key (None = tombstone) as the topic holds it now."""
    return {
        key: value
        for key, value in await read_topic(bootstrap_servers, topic, timeout_s, security)
        if key is not None
    }


class KafkaPolicySink:
    """A :class:`PolicySink` over an idempotent aiokafka producer."""

    def __init__(
        self,
        bootstrap_servers: str,
        policies_topic: str = POLICIES_TOPIC,
        audit_topic: str = AUDIT_TOPIC,
        *,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.policies_topic = policies_topic
        self.audit_topic = audit_topic
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=True,
            acks="all",
            **(security or {}),
        )

    async def __aenter__(self) -> KafkaPolicySink:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.producer.stop()

    async def send_policy(self, key: str, value: bytes | None) -> None:
        await self.producer.send_and_wait(self.policies_topic, key=key.encode(), value=value)

    async def send_audit(self, key: str, value: bytes) -> None:
        await self.producer.send_and_wait(self.audit_topic, key=key.encode(), value=value)
