"""Producing accepted policy changes: records to service.policies, audit to the audit topic.

The webhook view, ``camguard policy set|delete`` and ``camguard policy sync`` all publish
through :class:`PolicyPublisher`; only the :class:`PolicySink` differs (Faust topics in a
worker, an aiokafka producer in the CLI, a list in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from streams.codec import AvroCodec
from streams.policy.crypto import PolicyCipher
from streams.policy.payload import AuditEntry, ChangePlan
from streams.policy.records import CHANGE, RECORD, change_record, row_to_record
from streams.policy.resolve import PolicyRow


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
