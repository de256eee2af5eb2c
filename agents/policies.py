"""Policy wiring of a worker.

- The GlobalTable ``policies`` (declared in streams/app.py) hands every service.policies message
  to this worker's PolicyManager as it arrives; a refused record leaves the last known good
  policy in force there (counted as ``policies.rejected``).
- The validator below dead-letters refused records once for the whole cluster: it consumes
  service.policies in its own consumer group (``<app_id>-policy-validator``), so each partition
  is checked by exactly one worker and committed offsets survive restarts. (Faust's GlobalTable
  gives every worker every partition, and the leader topic is disabled, so neither can elect.)
- A worker that could not read service.policies at start (agents/worker.py) has no table: its
  manager follows the topic through a retrying reader, and until that has read the topic the
  privacy lookup fails, so every frame is blurred with every kind (fail closed, version null).

Agents read policies per message through :func:`policy_manager`::

    privacy, version = policy_manager(cg).effective_privacy(org_id, camera_id)
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.app import POLICIES, CamguardApp
from streams.codec import CodecError
from streams.deadletter import RawMessage, send_dead_letter
from streams.kafka_security import aiokafka_kwargs
from streams.policy.avro import decode_policy_message
from streams.policy.exceptions import PolicyError
from streams.policy.manager import PolicyManager
from streams.policy.sources import RETRY_S, retrying

log = logging.getLogger(__name__)
CONSUMER = "policies"


def policy_manager(cg: CamguardApp) -> PolicyManager:
    """The PolicyManager of this worker (see :attr:`CamguardApp.policies`)."""
    return cg.policies


async def validate_batch(
    cg: CamguardApp, manager: PolicyManager, messages: list[RawMessage]
) -> int:
    """Dead-letter every unusable message of ``messages``; return how many."""
    refused = 0
    for message in messages:
        try:
            decode_policy_message(manager.codec, message.key, message.value, manager.cipher)
        except (PolicyError, CodecError) as exc:
            refused += 1
            await send_dead_letter(cg, message, exc, CONSUMER)
    return refused


async def run_validator(cg: CamguardApp, manager: PolicyManager) -> None:
    """Consume service.policies in the validator group until cancelled; a failure of the
    broker (the topic unreadable, an outage) restarts the consumer after a pause."""

    def failed(exc: Exception) -> None:
        log.warning("policy validator: %r; restarting in %.0f s", exc, RETRY_S)

    await retrying(lambda: _validate_until_failure(cg, manager), failed, (KafkaError,))


async def _validate_until_failure(cg: CamguardApp, manager: PolicyManager) -> None:
    consumer = AIOKafkaConsumer(
        POLICIES,
        bootstrap_servers=cg.settings.bootstrap_servers,
        group_id=f"{cg.settings.app_id}-policy-validator",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **aiokafka_kwargs(cg.settings),
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for messages in batches.values():
                await validate_batch(cg, manager, list(messages))
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


def install(cg: CamguardApp) -> PolicyManager:
    """Count refused records and changes, start the validator; return the manager."""
    manager = policy_manager(cg)
    table = cg.tables.by_name.get("policies")
    if table is not None:

        async def rejected(message: RawMessage, error: Exception) -> None:
            cg.count("policies.rejected")

        table.on_rejected = rejected
    else:  # no table: the topic was unreadable at start; follow it until it is readable

        async def follow_policies() -> None:
            await manager.follow()

        cg.app.task(follow_policies)
    manager.on_change(lambda key, row: cg.count("policies.changes"))

    async def policy_validator() -> None:
        try:
            await run_validator(cg, manager)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("policy validator stopped; refused records are no longer dead-lettered")

    cg.app.task(policy_validator)
    return manager
