"""Opening a spool directory after a clean stop or a crash.

Every segment is read and checked frame by frame (length, CRC32, header):

- the last segment may end in a torn write (the process died inside ``write``): the tail is
  cut at the last whole record and the bytes counted in ``Recovery.truncated_bytes``;
- any other damaged segment is moved to ``quarantine/`` and reported; the others replay;
- records named in the ack log are settled and skipped; segments left without live records
  are deleted; the ack log is rewritten without entries of vanished segments.

Writing then continues in a new segment, so files from an earlier run are never appended to.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from streams.spool.framing import (
    FRAME,
    HEADER,
    SEGMENT_MAGIC,
    Location,
    RecordCipher,
    RecordHeader,
    scan_records,
)
from streams.spool.segments import QUARANTINE, SegmentStore, fsync_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpooledRecord:
    """A live record found when the spool was opened."""

    header: RecordHeader
    location: Location


@dataclass(frozen=True)
class QuarantinedSegment:
    """A segment moved aside on open: its file name, why, and what was readable before."""

    name: str
    reason: str
    readable_records: int


@dataclass(frozen=True)
class Recovery:
    """What :func:`open_spool` found."""

    records: tuple[SpooledRecord, ...]
    """Live records, by priority then sequence."""
    quarantined: tuple[QuarantinedSegment, ...]
    truncated_bytes: int
    """Bytes of torn tail cut from the last segment and the ack log (interrupted writes)."""
    next_seq: int


def quarantine(store: SegmentStore, path: Path, reason: str, readable: int) -> QuarantinedSegment:
    """Move a damaged segment out of the way, keeping it for inspection."""
    target_dir = store.directory / QUARANTINE
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.name}.{n}"
        n += 1
    os.replace(path, target)
    fsync_dir(store.directory)
    log.error(
        "spool %s: segment %s is damaged (%s) and was moved to %s; %d records before the damage",
        store.queue_name,
        path.name,
        reason,
        target,
        readable,
    )
    return QuarantinedSegment(path.name, reason, readable)


def _cut(path: Path, valid_end: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, valid_end)
        os.fsync(fd)
    finally:
        os.close(fd)


def open_spool(
    directory: Path,
    *,
    segment_bytes: int,
    cipher: RecordCipher | None = None,
    fsync_on_rotate: bool = True,
    queue_name: str = "",
) -> tuple[SegmentStore, Recovery]:
    """Lock and check ``directory``; return the store, ready to append, and what it holds."""
    store = SegmentStore(
        directory,
        segment_bytes=segment_bytes,
        cipher=cipher,
        fsync_on_rotate=fsync_on_rotate,
        queue_name=queue_name,
    )
    store.lock()
    try:
        recovery = _recover(store)
    except BaseException:
        store.close()
        raise
    return store, recovery


def _recover(store: SegmentStore) -> Recovery:
    acked, truncated = store.read_acks()
    numbers = store.segment_numbers()
    records: list[SpooledRecord] = []
    quarantined: list[QuarantinedSegment] = []
    max_seq = 0
    for i, segment in enumerate(numbers):
        path = store.segment_path(segment)
        data = path.read_bytes()
        last = i == len(numbers) - 1
        if not data.startswith(SEGMENT_MAGIC):
            if last and SEGMENT_MAGIC.startswith(data):
                truncated += len(data)  # died while creating the file
                path.unlink()
            else:
                quarantined.append(quarantine(store, path, "bad_magic", 0))
            continue
        scan = scan_records(data)
        if scan.stop is not None and not last:
            quarantined.append(quarantine(store, path, scan.stop.value, len(scan.records)))
            continue
        if scan.stop is not None:
            truncated += len(data) - scan.valid_end
            _cut(path, scan.valid_end)
        live, settled = 0, set()
        for rec in scan.records:
            max_seq = max(max_seq, rec.header.seq)
            if (segment, rec.offset) in acked:
                settled.add(rec.offset)
                continue
            if rec.header.encrypted:
                start = rec.offset + FRAME.size
                store.check_key(data[start : start + HEADER.size + 4])
            records.append(SpooledRecord(rec.header, Location(segment, rec.offset, rec.length)))
            live += 1
        store.adopt(segment, live, settled, scan.valid_end)
    if truncated:
        log.warning("spool %s: cut %d bytes of torn tail", store.queue_name, truncated)
    store.compact_acks()
    store.start_segment((numbers[-1] if numbers else 0) + 1)
    store.delete_if_dead()
    records.sort(key=lambda r: (r.header.priority, r.header.seq))
    return Recovery(tuple(records), tuple(quarantined), truncated, max_seq + 1)
