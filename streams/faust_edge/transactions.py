"""Under ``exactly_once``, a record goes into the transaction of the input it comes from.

Faust's ``TransactionManager.send`` picks the transactional producer from the *output*
record's partition, as the consumer's cluster metadata knows it. The consumer only knows the
topics it subscribes to, so for any other topic (``camera.frames.anonymized``,
``camguard.deadletter``, ``camera.breaker.transitions``) Faust finds no partition and sends
through its plain producer: the record is visible at once, outside every transaction, and
published again when its input is processed again after a crash (each frame's output twice
at consecutive offsets, no transaction marker between: tests/integration/test_faults.py,
sigkill, 2 failures in 4 runs on 2026-12-02).

:class:`SourceTransactionManager` sends a record that is written for an input message (the
*current event*: a Faust stream event, or :class:`~streams.faust_edge.table_internals.MessageEvent`
set with :func:`~streams.faust_edge.table_internals.writing_for` by the events lane) through the
producer of that input's partition, the transaction that commits the input's offset, as
Kafka Streams does per task. A send with no current event (timers: health publishing) or
whose input partition has no transaction here goes the way Faust sends it.
"""

from __future__ import annotations

from typing import Any

from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.types import TP


class SourceTransactionManager(TransactionManager):
    """Faust's transaction manager, routing each send by its input's partition."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        source = self.source_transaction()
        if source is None:
            return await super().send(topic, key, value, partition, timestamp, headers)
        return await self.producer.send(
            topic, key, value, partition, timestamp, headers, transactional_id=source
        )

    def source_transaction(self) -> str | None:
        """The transactional id of the current event's input partition, if this worker has
        a producer for it."""
        event = current_event()
        message = getattr(event, "message", None)
        if message is None:
            return None
        try:  # Faust's own naming of a partition's transaction (empty for a standby)
            tids = self._tps_to_transactional_ids({TP(message.topic, message.partition)})
        except KeyError:  # not an assigned topic (a GlobalTable's changelog, say)
            return None
        producers = getattr(self.producer, "_transaction_producers", {})
        return next((tid for tid in tids if tid in producers), None)
