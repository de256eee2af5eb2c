"""The queue's bookkeeping: lanes, limits, placement and expiry, with no I/O and no clock.

:class:`QueueBook` decides where an item lives (memory or disk), which items a batch takes
(most urgent lane first, FIFO within a lane), what expires and what ``drop_oldest`` evicts.
The caller passes ``now_ms`` in and performs the disk writes and reads the book asks for.

Entries are mutable records owned by the book (a queue may hold a million of them, and an
entry changes tier and status in place); callers only see them through the book's methods.
Lanes drop settled entries lazily: expiring or evicting marks an entry DONE, and the next
``take`` or head lookup skips it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from streams.spool.config import Persistence, QueueConfig
from streams.spool.framing import FRAME, HEADER, KEY_LEN, Location

RECORD_OVERHEAD = FRAME.size + HEADER.size + KEY_LEN.size + 32
"""Framing bytes counted per item on disk (32 covers the AES-GCM key id, nonce and tag)."""


class Tier(Enum):
    MEMORY = "memory"
    DISK = "disk"


class Status(Enum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"


@dataclass(slots=True, eq=False)
class Entry:
    """One queued item. ``value`` is None while it lives only on disk."""

    seq: int
    priority: int
    key: bytes | None
    value: bytes | None
    size: int
    enqueued_ms: int
    expires_ms: int
    tier: Tier
    location: Location | None = None
    cached: bool = False
    """A disk entry whose value is also kept in memory (counted against memory limits)."""
    status: Status = Status.PENDING
    attempts: int = 0

    @property
    def in_memory(self) -> bool:
        return self.tier is Tier.MEMORY or self.cached


@dataclass(frozen=True)
class Placement:
    tier: Tier
    cached: bool = False


class QueueBook:
    """Lanes by priority (0 = most urgent) and the counters the limits are checked against."""

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self.lanes: dict[int, deque[Entry]] = {}
        self.live: dict[int, Entry] = {}
        self.memory_items = self.memory_bytes = 0
        self.disk_items = self.disk_bytes = 0
        self.pending_memory = self.pending_disk = 0
        self.in_flight = 0
        self.flying: dict[int, Entry] = {}
        self._dead_in_lanes = 0

    # --- accounting --------------------------------------------------------------------------

    def _account(self, entry: Entry, sign: int) -> None:
        if entry.status is Status.DONE:
            return
        if entry.in_memory:
            self.memory_items += sign
            self.memory_bytes += sign * entry.size
        if entry.tier is Tier.DISK:
            self.disk_items += sign
            self.disk_bytes += sign * (entry.size + RECORD_OVERHEAD)
        if entry.status is Status.IN_FLIGHT:
            self.in_flight += sign
            if sign > 0:
                self.flying[entry.seq] = entry
            else:
                self.flying.pop(entry.seq, None)
        elif entry.tier is Tier.MEMORY:
            self.pending_memory += sign
        else:
            self.pending_disk += sign

    @property
    def pending(self) -> int:
        return self.pending_memory + self.pending_disk

    # --- placement ---------------------------------------------------------------------------

    def memory_room(self, size: int) -> bool:
        return (
            self.memory_items < self.config.max_queue_size
            and self.memory_bytes + size <= self.config.max_memory_bytes
        )

    def disk_room(self, size: int) -> bool:
        return (
            self.disk_items < self.config.max_disk_items
            and self.disk_bytes + size + RECORD_OVERHEAD <= self.config.max_disk_bytes
        )

    def place(self, size: int, *, sink_up: bool, disk_ok: bool) -> Placement | None:
        """Where a new item of ``size`` bytes goes, or None when the queue is full."""
        mem = self.memory_room(size)
        disk = disk_ok and self.disk_room(size)
        if self.config.persistence is Persistence.ALWAYS:
            return Placement(Tier.DISK, cached=mem) if disk else None
        if mem and (sink_up or not disk):
            return Placement(Tier.MEMORY)
        return Placement(Tier.DISK) if disk else None

    # --- adding and taking -------------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Append a new or recovered entry at the tail of its lane (seq order is the caller's)."""
        self.lanes.setdefault(entry.priority, deque()).append(entry)
        self.live[entry.seq] = entry
        self._account(entry, +1)

    def _head(self, lane: deque[Entry]) -> Entry | None:
        while lane and lane[0].status is Status.DONE:
            lane.popleft()
            self._dead_in_lanes -= 1
        return lane[0] if lane else None

    def take(self, limit: int, now_ms: int) -> tuple[list[Entry], list[Entry]]:
        """Up to ``limit`` entries, most urgent lane first; expired heads are settled instead."""
        taken: list[Entry] = []
        expired: list[Entry] = []
        for priority in sorted(self.lanes):
            lane = self.lanes[priority]
            while len(taken) < limit and self._head(lane) is not None:
                entry = lane.popleft()
                if entry.expires_ms <= now_ms:
                    self._settle(entry)
                    expired.append(entry)
                    continue
                self._account(entry, -1)
                entry.status = Status.IN_FLIGHT
                entry.attempts += 1
                self._account(entry, +1)
                taken.append(entry)
        return taken, expired

    def requeue(self, entries: Iterable[Entry]) -> list[Entry]:
        """Put in-flight entries back at the head of their lanes, in sequence order."""
        back = sorted((e for e in entries if e.status is Status.IN_FLIGHT), key=lambda e: e.seq)
        by_lane: dict[int, list[Entry]] = {}
        for entry in back:
            self._account(entry, -1)
            entry.status = Status.PENDING
            if entry.location is not None and not entry.in_memory:
                entry.value = None  # read back from disk when taken again
            self._account(entry, +1)
            by_lane.setdefault(entry.priority, []).append(entry)
        for priority, group in by_lane.items():
            lane = self.lanes.setdefault(priority, deque())
            newest = group[-1].seq
            older: list[Entry] = []
            while lane and lane[0].seq < newest:
                older.append(lane.popleft())
            merged = sorted(group + older, key=lambda e: e.seq)
            lane.extendleft(reversed(merged))
        return back

    # --- settling ----------------------------------------------------------------------------

    def _settle(self, entry: Entry) -> None:
        self._account(entry, -1)
        entry.status = Status.DONE
        entry.value = None
        self.live.pop(entry.seq, None)

    def settle(self, entries: Iterable[Entry]) -> list[Entry]:
        """Mark live entries done (acknowledged or dropped); return those that were live."""
        done = []
        for entry in entries:
            if entry.status is Status.DONE:
                continue
            if entry.status is Status.PENDING:
                self._dead_in_lanes += 1
            self._settle(entry)
            done.append(entry)
        self._compact_lanes()
        return done

    def expire(self, now_ms: int, *, full: bool = False) -> list[Entry]:
        """Settle pending entries whose time to live has passed.

        Items of a lane expire mostly in lane order, so the cheap sweep only looks at lane
        heads; ``full=True`` (when room is needed) checks every entry.
        """
        if full:
            gone = [
                e
                for e in self.live.values()
                if e.status is Status.PENDING and e.expires_ms <= now_ms
            ]
            return self.settle(gone)
        expired: list[Entry] = []
        for lane in self.lanes.values():
            while (head := self._head(lane)) is not None and head.expires_ms <= now_ms:
                lane.popleft()
                self._settle(head)
                expired.append(head)
        return expired

    def evict_candidate(self, priority: int) -> Entry | None:
        """The oldest pending entry of the least urgent lane not more urgent than ``priority``."""
        for lane_priority in sorted(self.lanes, reverse=True):
            if lane_priority < priority:
                break
            head = self._head(self.lanes[lane_priority])
            if head is not None:
                return head
        return None

    def _compact_lanes(self) -> None:
        if self._dead_in_lanes > 1024 and self._dead_in_lanes > self.pending:
            for priority, lane in self.lanes.items():
                self.lanes[priority] = deque(e for e in lane if e.status is not Status.DONE)
            self._dead_in_lanes = 0

    # --- tier changes ------------------------------------------------------------------------

    def memory_entries(self) -> list[Entry]:
        """Live entries held only in memory, oldest first (what a spill writes)."""
        return sorted((e for e in self.live.values() if e.tier is Tier.MEMORY), key=lambda e: e.seq)

    def move(self, entry: Entry, tier: Tier, *, cached: bool = False) -> None:
        """Change a live entry's tier (memory to disk on spill, back on a failed write)."""
        self._account(entry, -1)
        entry.tier, entry.cached = tier, cached
        self._account(entry, +1)

    def stored(self, entry: Entry, location: Location) -> bool:
        """A disk write finished; False when the entry was settled meanwhile."""
        entry.location = location
        if entry.status is Status.DONE:
            return False
        if not entry.cached and entry.status is Status.PENDING:
            entry.value = None
        return True

    def oldest_enqueued_ms(self) -> int | None:
        heads = [h for lane in self.lanes.values() if (h := self._head(lane)) is not None]
        times = [e.enqueued_ms for e in heads] + [e.enqueued_ms for e in self.flying.values()]
        return min(times) if times else None
