"""The disk side of the spool: append-only segment files and an ack log (blocking I/O).

:class:`SegmentStore` is the queue's only file-system adapter. Every method blocks, so the
queue calls it from one dedicated executor thread, which also serialises it. Layout of a spool
directory::

    LOCK                       flock'ed by the owning process
    0000000000000001.seg ...   segments: SEGMENT_MAGIC + framed records (streams.spool.framing)
    ack.log                    ACK_MAGIC + framed (segment, offset) pairs of settled records
    quarantine/                segments that failed their checks on open, kept for inspection

A record is live until its location is released (acknowledged, expired or evicted). A segment
with no live record left is deleted, unless it is the one being written. Segment numbers only
grow, so an ack entry can never point at a record of a later segment.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.spool.exceptions import (
    CorruptRecordError,
    DiskFullError,
    SpoolKeyError,
    SpoolLockedError,
)
from streams.spool.framing import (
    ACK_MAGIC,
    FRAME,
    HEADER,
    SEGMENT_MAGIC,
    Location,
    RecordCipher,
    RecordHeader,
    decode_body,
    encode_acks,
    encode_record,
    scan_acks,
    verify_frame,
)

log = logging.getLogger(__name__)

SUFFIX = ".seg"
ACK_LOG = "ack.log"
QUARANTINE = "quarantine"
ACK_COMPACT_MIN_BYTES = 1 << 20
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


ReadResult = tuple[bytes | None, bytes] | Exception
"""``(key, value)`` of a record read back, or the error that made it unreadable."""


@dataclass(frozen=True)
class NewRecord:
    """A record to append: its clear-text header, key and value."""

    header: RecordHeader
    key: bytes | None
    value: bytes


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class SegmentStore:
    """Append, read back and release spooled records in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int,
        cipher: RecordCipher | None = None,
        fsync_on_rotate: bool = True,
        queue_name: str = "",
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.cipher = cipher
        self.fsync_on_rotate = fsync_on_rotate
        self.queue_name = queue_name or directory.name
        self._lock_fd: int | None = None
        self._live: dict[int, int] = {}
        self._acked: dict[int, set[int]] = {}
        self._sizes: dict[int, int] = {}
        # Totals kept as plain ints: stats() reads them from the event loop thread while the
        # executor thread changes the tables.
        self.file_bytes = 0
        self.segments = 0
        self._read_fds: dict[int, int] = {}
        self._active = 0
        self._active_fd: int | None = None
        self._ack_fd: int | None = None
        self._ack_size = 0
        self._dirty_active = self._dirty_ack = False
        self.ack_errors = 0

    # --- open / close ------------------------------------------------------------------------

    def close(self) -> None:
        """Sync and close every file; release the directory lock."""
        if self._active_fd is not None:
            os.fsync(self._active_fd)
        if self._ack_fd is not None:
            os.fsync(self._ack_fd)
        for fd in [self._active_fd, self._ack_fd, *self._read_fds.values()]:
            if fd is not None:
                os.close(fd)
        self._active_fd = self._ack_fd = None
        self._read_fds.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock(self) -> None:
        """Take the directory's lock; :class:`SpoolLockedError` when another process holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise SpoolLockedError(f"spool {self.directory} is in use by another process") from exc
        self._lock_fd = fd

    # --- paths, used by recovery ---------------------------------------------------------------

    def segment_path(self, segment: int) -> Path:
        return self.directory / f"{segment:016d}{SUFFIX}"

    def segment_numbers(self) -> list[int]:
        numbers = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            if path.stem.isdigit():
                numbers.append(int(path.stem))
        return sorted(numbers)

    def adopt(self, segment: int, live: int, acked: set[int], size: int) -> None:
        """Recovery registers a checked segment with its live count and settled offsets."""
        self._live[segment] = live
        self._acked[segment] = acked
        self.file_bytes += size - self._sizes.get(segment, 0)
        self.segments += segment not in self._sizes
        self._sizes[segment] = size

    def start_segment(self, segment: int) -> None:
        """Create ``segment`` as the one being written (durably, directory included)."""
        path = self.segment_path(segment)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, SEGMENT_MAGIC)
            os.fsync(fd)
            fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._active_fd is not None:
            if self.fsync_on_rotate:
                os.fsync(self._active_fd)
            os.close(self._active_fd)
        previous = self._active
        self._active, self._active_fd = segment, fd
        self._dirty_active = False
        self.adopt(segment, 0, set(), len(SEGMENT_MAGIC))
        if previous and self._live.get(previous) == 0:
            self._delete(previous)

    # --- writing -----------------------------------------------------------------------------

    def commit(
        self, records: Sequence[NewRecord], released: Sequence[Location], sync: bool
    ) -> list[Location]:
        """Release ``released``, append ``records``; fsync both files when ``sync``.

        Raises :class:`DiskFullError` when the file system refuses the records (nothing of them
        is kept); releases are applied even then.
        """
        if released:
            self._release(released)
        locations = self._append(records) if records else []
        if sync:
            self.sync()
        return locations

    def _append(self, records: Sequence[NewRecord]) -> list[Location]:
        assert self._active_fd is not None, "store is not open"
        locations: list[Location] = []
        chunk: list[bytes] = []
        size = start = self._sizes[self._active]
        try:
            for record in records:
                framed = encode_record(record.header, record.key, record.value, self.cipher)
                if size > len(SEGMENT_MAGIC) and size + len(framed) > self.segment_bytes:
                    self._write_chunk(chunk, start)
                    self.start_segment(self._active + 1)
                    chunk, size = [], len(SEGMENT_MAGIC)
                    start = size
                chunk.append(framed)
                locations.append(Location(self._active, size, len(framed)))
                size += len(framed)
            self._write_chunk(chunk, start)
        except (OSError, DiskFullError) as exc:
            # Records of earlier chunks already reached a file: settle them so they never
            # replay, since the caller is told that none of this batch was stored.
            written = [loc for loc in locations if loc.offset < self._sizes.get(loc.segment, 0)]
            self._release(written)
            if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(self.queue_name, os.strerror(exc.errno or 0)) from exc
            raise
        return locations

    def _write_chunk(self, chunk: list[bytes], start: int) -> None:
        if not chunk:
            return
        assert self._active_fd is not None
        data = b"".join(chunk)
        try:
            _write_all(self._active_fd, data)
        except OSError as exc:
            os.ftruncate(self._active_fd, start)
            os.lseek(self._active_fd, start, os.SEEK_SET)
            if exc.errno in DISK_FULL_ERRNOS:
                raise DiskFullError(self.queue_name, os.strerror(exc.errno or 0)) from exc
            raise
        self._sizes[self._active] = start + len(data)
        self.file_bytes += len(data)
        self._live[self._active] += len(chunk)
        self._dirty_active = True

    def sync(self) -> None:
        """fdatasync what was written since the last sync (segment, ack log, or both)."""
        if self._dirty_active and self._active_fd is not None:
            os.fdatasync(self._active_fd)
            self._dirty_active = False
        if self._dirty_ack and self._ack_fd is not None:
            os.fdatasync(self._ack_fd)
            self._dirty_ack = False

    # --- releasing ---------------------------------------------------------------------------

    def _release(self, released: Sequence[Location]) -> None:
        pairs = [(loc.segment, loc.offset) for loc in released if loc.segment in self._live]
        if self._ack_fd is not None and pairs:
            try:
                _write_all(self._ack_fd, encode_acks(pairs))
                self._dirty_ack = True
                self._ack_size += FRAME.size + 1 + 16 * len(pairs)
            except OSError as exc:
                # Not fatal: the records are redelivered after a restart (at-least-once).
                self.ack_errors += 1
                log.warning("spool %s: ack log write failed: %s", self.queue_name, exc)
        dead: list[int] = []
        for segment, offset in pairs:
            self._acked[segment].add(offset)
            self._live[segment] -= 1
            if self._live[segment] == 0 and segment != self._active:
                dead.append(segment)
        for segment in dead:
            self._delete(segment)
        if self._ack_size > max(ACK_COMPACT_MIN_BYTES, 64 * self._acked_count()):
            self.compact_acks()

    def _acked_count(self) -> int:
        return sum(len(offsets) for offsets in self._acked.values())

    def delete_if_dead(self) -> None:
        """Delete every segment without live records except the one being written."""
        for segment in [s for s, n in self._live.items() if n == 0 and s != self._active]:
            self._delete(segment)

    def _delete(self, segment: int) -> None:
        fd = self._read_fds.pop(segment, None)
        if fd is not None:
            os.close(fd)
        self.segment_path(segment).unlink(missing_ok=True)
        if segment in self._sizes:
            self.file_bytes -= self._sizes[segment]
            self.segments -= 1
        for table in (self._live, self._acked, self._sizes):
            table.pop(segment, None)

    def compact_acks(self) -> None:
        """Rewrite the ack log with the entries of live segments only (atomic rename)."""
        path = self.directory / ACK_LOG
        tmp = path.with_suffix(".tmp")
        pairs = [(seg, off) for seg, offs in sorted(self._acked.items()) for off in sorted(offs)]
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, ACK_MAGIC)
            for i in range(0, len(pairs), 4096):
                _write_all(fd, encode_acks(pairs[i : i + 4096]))
            os.fsync(fd)
            size = os.lseek(fd, 0, os.SEEK_CUR)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        fsync_dir(self.directory)
        if self._ack_fd is not None:
            os.close(self._ack_fd)
        self._ack_fd, self._ack_size = fd, size

    def read_acks(self) -> tuple[set[tuple[int, int]], int]:
        """The ack log's pairs and how many torn bytes were cut from its end."""
        path = self.directory / ACK_LOG
        if not path.exists():
            return set(), 0
        data = path.read_bytes()
        if not data.startswith(ACK_MAGIC):
            log.warning("spool %s: ack log has no header; ignoring it", self.queue_name)
            return set(), len(data)
        acked, valid_end, stop = scan_acks(data)
        if stop is not None:
            log.warning(
                "spool %s: ack log damaged at byte %d (%s)", self.queue_name, valid_end, stop
            )
        return acked, len(data) - valid_end

    # --- reading -----------------------------------------------------------------------------

    def read(self, locations: Sequence[Location]) -> list[ReadResult]:
        """``(key, value)`` per location, or the error that made it unreadable."""
        out: list[ReadResult] = []
        for loc in locations:
            try:
                fd = self._read_fd(loc.segment)
                payload = verify_frame(os.pread(fd, loc.length, loc.offset))
                out.append(decode_body(payload, self.cipher))
            except SpoolKeyError as exc:
                out.append(exc)
            except (OSError, ValueError) as exc:
                out.append(CorruptRecordError(f"{self.segment_path(loc.segment).name}: {exc}"))
        return out

    def _read_fd(self, segment: int) -> int:
        fd = self._read_fds.get(segment)
        if fd is None:
            fd = os.open(self.segment_path(segment), os.O_RDONLY)
            self._read_fds[segment] = fd
        return fd

    def check_key(self, payload_prefix: bytes) -> None:
        """Raise :class:`SpoolKeyError` unless an encrypted body's key is configured."""
        if self.cipher is None:
            raise SpoolKeyError(
                f"spool {self.directory} holds encrypted records; set CAMGUARD_SPOOL_KEY"
            )
        body = payload_prefix[HEADER.size :]
        if not self.cipher.knows(body):
            raise SpoolKeyError(f"spool {self.directory} was encrypted with another key")

    def set_ack_fd(self, fd: int, size: int) -> None:
        self._ack_fd, self._ack_size = fd, size
