"""Batch lanes: hand a topic's fetched records to a handler in bulk, inside Faust's consumer.

Faust delivers every message through its conductor, a channel queue and a stream iterator,
each step an await (and two tasks per message in the fetch loop): about 60 us per message on
our CI machine, 17 000 msg/s for an agent that does nothing, against 340 000 msg/s for a bare
aiokafka loop. ``camera.events`` carries small, frequent records whose work (decode, breaker
and health fold) costs a few microseconds, so that machinery was 85 % of the events path.

A lane keeps everything Faust does *around* a message and drops the per-message dispatch:

- the topic stays subscribed through Faust's consumer group (``app.topics.add``), so its
  partitions are assigned together with ``camera.frames`` and the tables' changelogs
  (co-partitioning), paused while a table recovers, and fetched by Faust's fetcher;
- :meth:`LaneConsumer._wait_next_records` takes the lane topic's records out of each fetch
  and awaits the handler with the whole per-partition batch (raw aiokafka records);
- afterwards the batch is acknowledged in Faust's own bookkeeping (acked offsets, gaps, read
  offset), so Faust's commit loop commits it, and with ``exactly_once`` commits it in the
  same per-partition transaction as the changelog records the handler sent;
- no commit runs while a batch is being handled and acknowledged, so with ``exactly_once``
  a batch's records and its offsets land in one transaction (:mod:`streams.commit_gate`;
  :meth:`LaneConsumer.force_commit` is where every Faust commit passes);
- a rebalance waits for a running batch (:meth:`LaneConsumer.wait_empty`), and a batch that
  started under an older generation is not acknowledged (Faust seeks back to the committed
  offset; handlers must tolerate that replay, as table handlers do with source offsets).

The hooks are the aiokafka driver's ``Consumer`` and consumer thread (subclassed) and
``App._new_transport``; they touch the consumer's offset bookkeeping by name, so
faust-streaming is pinned to 0.15.x and tests/integration/test_events_lane.py runs the lane
against a real broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.enums import ProcessingGuarantee
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from streams.commit_gate import CommitGate
from streams.faust_edge.transactions import SourceTransactionManager

log = logging.getLogger(__name__)
T = TypeVar("T")

LaneHandler = Callable[[Any, Sequence[Any]], Awaitable[None]]
"""``handler(tp, records)``: records are aiokafka ``ConsumerRecord`` s of one partition, in
offset order. It returns once its effects are handed to the producer; raising crashes the
worker (the batch is not acknowledged and is read again after the restart)."""


class StableHighwaterThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose highwaters under ``exactly_once`` are never unknown.

    In a transaction Faust takes a partition's highwater from the last stable offset of the
    latest fetch response, ``None`` for a partition not fetched since the rebalance; recovery
    reads ``None`` as highwater -1 and crashes the worker with ``ConsistencyError`` when the
    local store already holds a later offset (a rebalance under ``exactly_once``:
    ``service.policies``, "persisted offset 5 > -1", tests/integration/test_events_lane.py).
    Those partitions are asked of the broker instead: ListOffsets at the consumer's isolation
    level (read_committed) answers their last stable offset.
    """

    async def _highwaters(self, partitions: list[Any]) -> Any:
        found = dict(await super()._highwaters(partitions))
        unknown = [tp for tp, offset in found.items() if offset is None]
        if unknown:
            found.update(await self._ensure_consumer().end_offsets(unknown))
        return found


class LaneConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with batch lanes for some topics (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lane_running: asyncio.Future[None] | None = None

    def _new_consumer_thread(self) -> Any:
        return StableHighwaterThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Any:
        """Faust's seek to committed offsets, and source partitions with none to their start.

        aiokafka's ``seek_to_committed`` leaves a partition without a committed offset (a
        fresh group) where the fetcher got to, and what was fetched there while tables
        recovered was never processed: a worker started while frames or events flowed lost
        its first records (tests/integration/test_faults.py, the events lane's skipped
        batches). With ``earliest`` they are read from the start, as the reset policy
        promises; changelogs are recovery's business.
        """
        committed: Any = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            changelogs = self.app.tables.changelog_topics
            fresh = [tp for tp, at in committed.items() if not at and tp.topic not in changelogs]
            if fresh:
                await self._thread.seek_to_beginning(*fresh)
        return committed

    @property
    def lanes(self) -> dict[str, LaneHandler]:
        return lanes_of(self.app)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109 (Faust signature)
        fetched: tuple[Any, Any] = await super()._wait_next_records(timeout)
        records, active = fetched
        lanes = self.lanes
        if records and lanes:
            for tp in [tp for tp in records if tp.topic in lanes]:
                batch = records.pop(tp)
                # Shielded: a fetcher cancelled by a rebalance must not leave a half-written
                # batch; wait_empty() waits for it instead.
                running = asyncio.ensure_future(self._run_lane(lanes[tp.topic], tp, batch, active))
                self._lane_running = running
                await asyncio.shield(running)
        return records, active

    async def _run_lane(
        self, handler: LaneHandler, tp: Any, batch: Sequence[Any], active: Any
    ) -> None:
        generation = self.app.consumer_generation_id
        # Skipped batches are read again: the flow stops only for a rebalance, and a lane
        # partition is inactive only while tables recover (the conductor's buffer-full pause
        # never applies: lane records never reach a channel); both end with Faust's recovery
        # seeking every assigned partition back to its committed offset, or to its start
        # when it has none (perform_seek, seek_to_committed below).
        if self.should_stop or not self.flow_active:
            return
        if active is not None and tp not in active and tp not in self._buffered_partitions:
            return
        read = self._read_offset[tp]
        fresh = [record for record in batch if read is None or record.offset >= read]
        if not fresh:
            return
        previous = read
        for record in fresh:  # offsets skipped by the broker (transaction markers, compaction)
            if previous and record.offset - previous > 1:
                await self._add_gap(tp, previous + 1, record.offset)
            previous = record.offset
        # The batch's records and its acknowledgement go into one transaction: no commit
        # runs between the handler's first send and the ack (streams.commit_gate).
        async with commit_gate(self.app).handling():
            await handler(tp, fresh)
            if self.app.consumer_generation_id != generation:
                log.info("lane %s: rebalanced while handling %d records; not acked", tp, len(fresh))
                return
            self._ack_offsets(tp, [record.offset for record in fresh])
        self._read_offset[tp] = fresh[-1].offset
        self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:
        """Faust's commit, between units of work (:class:`~streams.commit_gate.CommitGate`)."""
        async with commit_gate(self.app).committing():
            done: bool = await super().force_commit(
                topics, start_new_transaction=start_new_transaction
            )
            return done

    def _ack_offsets(self, tp: Any, offsets: Sequence[int]) -> None:
        """Faust's ``Consumer.ack`` for many offsets of one partition at once."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        with ack_lock:
            committed = self._committed_offset[tp]
            index = self._acked_index[tp]
            new = [o for o in offsets if (committed is None or o >= committed) and o not in index]
            index.update(new)
            self._acked[tp].extend(new)
            self._n_acked += len(new)
            notify(self._waiting_for_ack)

    async def wait_empty(self) -> None:
        """Let a running lane batch finish before Faust commits for a rebalance or stop."""
        running = self._lane_running
        if running is not None and not running.done():
            await asyncio.wait([running])
        await super().wait_empty()


class LaneTransport(faust_aiokafka.Transport):
    """The aiokafka transport with :class:`LaneConsumer`, whose transactions take each record
    in its input's transaction (:mod:`streams.faust_edge.transactions`)."""

    Consumer = LaneConsumer
    TransactionManager = SourceTransactionManager


class LaneApp(faust.App):
    """A Faust app whose Kafka consumer supports batch lanes (``kafka://`` brokers)."""

    def _new_transport(self) -> Any:
        url = self.conf.broker_consumer[0]
        if url.scheme in ("kafka", "aiokafka"):
            return LaneTransport(self.conf.broker_consumer, self)
        return super()._new_transport()


_LANES = "_camguard_lanes"
_GATE = "_camguard_commit_gate"


def commit_gate(app: Any) -> CommitGate:
    """``app``'s commit gate, open unless ``processing_guarantee`` is ``exactly_once``."""
    # From the configuration: ``app.in_transaction`` is a cached property that is False until
    # the worker starts, and reading it earlier keeps it False for good (Faust then runs
    # without transactions at all).
    guarantee = ProcessingGuarantee.EXACTLY_ONCE
    return _kept_on(
        app, _GATE, lambda: CommitGate(enabled=app.conf.processing_guarantee == guarantee)
    )


def lanes_of(app: Any) -> dict[str, LaneHandler]:
    """The lanes registered on ``app`` (topic name -> handler)."""
    return _kept_on(app, _LANES, dict)


def _kept_on(app: Any, name: str, make: Callable[[], T]) -> T:
    """The object ``app`` keeps as ``name``, made by ``make`` the first time."""
    found: T | None = getattr(app, name, None)
    if found is None:
        found = make()
        setattr(app, name, found)
    return found


def add_lane(app: faust.App, topic: faust.TopicT, handler: LaneHandler) -> None:
    """Consume ``topic`` on ``app`` in batches through ``handler`` (``app`` is a LaneApp)."""
    if not isinstance(app, LaneApp):
        raise TypeError("batch lanes need a LaneApp (streams.app.build_app makes one)")
    for name in topic.topics:
        lanes_of(app)[name] = handler
    app.topics.add(topic)  # subscribed and assigned with the app's other topics
