"""The Faust GlobalTable ``policies`` over the compacted topic service.policies (adapter).

Every worker reads every partition of service.policies (a global table with all partitions as
standbys, so it keeps following after recovery) and hands each message, as it arrives, to its
:class:`~streams.policy.manager.PolicyManager`. The table keeps an in-memory store on purpose:
recovery then replays the whole compacted topic through the manager on every start, so the
manager never depends on a local RocksDB state it did not validate.

A message the manager refuses is passed to ``on_rejected`` (installed by agents/policies.py,
which dead-letters it); the last known good policy stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import EventT

from streams.codec import CodecError
from streams.faust_edge.table_internals import ContractChangelogGlobalTable
from streams.policy.exceptions import PolicyError
from streams.policy.manager import PolicyManager
from streams.settings import Settings

log = logging.getLogger(__name__)
TABLE_NAME = "policies"
Rejected = Callable[[Any, Exception], Awaitable[None]]


class PolicyGlobalTable(ContractChangelogGlobalTable):
    """GlobalTable whose changelog is service.policies, feeding a PolicyManager."""

    manager: PolicyManager
    on_rejected: Rejected | None = None

    async def on_changelog_event(self, event: EventT[Any]) -> None:
        message = event.message
        try:
            self.manager.apply_message(message.key, message.value)
        except (PolicyError, CodecError) as exc:
            log.warning(
                "policy record %s[%d]@%d refused, last known good kept: %s",
                message.topic,
                message.partition,
                message.offset,
                exc,
            )
            if self.on_rejected is not None:
                await self.on_rejected(message, exc)

    async def on_recovery_completed(self, active_tps: Any, standby_tps: Any) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        self.manager.mark_ready()


def declare_policy_table(
    app: faust.App, settings: Settings, topic: faust.TopicT, manager: PolicyManager | None = None
) -> PolicyGlobalTable:
    """Declare the ``policies`` GlobalTable on ``app``, fed by ``topic``."""
    table = PolicyGlobalTable(
        app,
        name=TABLE_NAME,
        changelog_topic=topic,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
        store="memory://",
        beacon=app.tables.beacon,
        is_global=True,
        synchronize_all_active_partitions=True,
        recovery_buffer_size=1,
        standby_buffer_size=1,
        help="Every policy row of service.policies (compacted), on every worker.",
    )
    table.manager = manager or PolicyManager.from_settings(settings)
    app.tables.add(table)
    return table


def policy_manager_of(table: object) -> PolicyManager:
    """The manager behind a declared policies table."""
    if not isinstance(table, PolicyGlobalTable):
        raise TypeError(f"not a policies table: {table!r}")
    return table.manager
