"""The spool's on-disk record format, as pure functions over bytes.

A segment file is ``SEGMENT_MAGIC`` followed by framed records; the ack log is ``ACK_MAGIC``
followed by framed ack entries. A frame is::

    u32 payload length | u32 CRC32(payload) | payload              (little-endian)

A record payload is a fixed header, then the body::

    u8 version | u8 flags | u8 priority | u8 reserved | u64 seq | i64 enqueued_ms | i64 expires_ms
    plain body:      i32 key length (-1 = no key) | key | value
    encrypted body:  4-byte key id | 12-byte nonce | AES-GCM(plain body, aad=header)

The header stays in clear text so a spool can be indexed (order, priority, expiry) without the
key. An ack entry payload is ``u8 kind (1) | n x (u64 segment, u64 offset)``.

Scanning stops at the first frame that is short, oversized or fails its CRC: in the segment
being written when the process died that is a torn tail to cut off; anywhere else it is
corruption and the caller quarantines the file.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

SEGMENT_MAGIC = b"CGSPOOL\x01"
ACK_MAGIC = b"CGACKS\x00\x01"
FRAME = struct.Struct("<II")
HEADER = struct.Struct("<BBBBQqq")
KEY_LEN = struct.Struct("<i")
ACK_PAIR = struct.Struct("<QQ")
VERSION = 1
FLAG_ENCRYPTED = 0x01
ACK_KIND = 1
MAX_PAYLOAD = 1 << 30


@dataclass(frozen=True, slots=True)
class Location:
    """Where a framed record lives: segment number, byte offset, framed length."""

    segment: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """The clear-text part of a spooled record."""

    seq: int
    priority: int
    enqueued_ms: int
    expires_ms: int
    flags: int = 0

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & FLAG_ENCRYPTED)


class RecordCipher(Protocol):
    """Encrypts record bodies (see :class:`streams.spool.cipher.SpoolCipher`)."""

    def seal(self, body: bytes, aad: bytes) -> bytes: ...

    def open(self, sealed: bytes, aad: bytes) -> bytes: ...

    def knows(self, sealed_prefix: bytes) -> bool: ...


class ScanStop(StrEnum):
    """Why a scan stopped before the end of the data."""

    SHORT = "short"
    """The last frame is incomplete (a torn write)."""
    CRC = "crc"
    """A frame's CRC32 does not match."""
    HEADER = "bad_header"
    """The frame length or record header is impossible."""


@dataclass(frozen=True, slots=True)
class ScannedRecord:
    header: RecordHeader
    offset: int
    length: int


@dataclass(frozen=True)
class Scan:
    """The valid records of a buffer, where validity ends and why."""

    records: tuple[ScannedRecord, ...]
    valid_end: int
    stop: ScanStop | None


def frame(payload: bytes) -> bytes:
    """Length and CRC32 in front of ``payload``."""
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def encode_record(
    header: RecordHeader, key: bytes | None, value: bytes, cipher: RecordCipher | None = None
) -> bytes:
    """The framed bytes of one record (encrypted body when ``cipher`` is given)."""
    flags = FLAG_ENCRYPTED if cipher is not None else 0
    head = HEADER.pack(
        VERSION, flags, header.priority, 0, header.seq, header.enqueued_ms, header.expires_ms
    )
    key_part = KEY_LEN.pack(-1) if key is None else KEY_LEN.pack(len(key)) + key
    body = key_part + value
    if cipher is not None:
        body = cipher.seal(body, head)
    return frame(head + body)


def parse_header(payload: bytes | memoryview) -> RecordHeader | None:
    """The header of a record payload, or None when it is not a record we can read."""
    if len(payload) < HEADER.size:
        return None
    version, flags, priority, _, seq, enqueued_ms, expires_ms = HEADER.unpack_from(payload)
    if version != VERSION or flags & ~FLAG_ENCRYPTED:
        return None
    return RecordHeader(seq, priority, enqueued_ms, expires_ms, flags)


def decode_body(payload: bytes, cipher: RecordCipher | None) -> tuple[bytes | None, bytes]:
    """``(key, value)`` of a verified record payload; ValueError when it cannot be read."""
    header = parse_header(payload)
    if header is None:
        raise ValueError("not a spool record")
    body = payload[HEADER.size :]
    if header.encrypted:
        if cipher is None:
            raise ValueError("record is encrypted and no spool key is configured")
        body = cipher.open(body, payload[: HEADER.size])
    if len(body) < KEY_LEN.size:
        raise ValueError("record body too short")
    (key_len,) = KEY_LEN.unpack_from(body)
    start = KEY_LEN.size
    if key_len < 0:
        return None, body[start:]
    if start + key_len > len(body):
        raise ValueError("record key runs past the body")
    return body[start : start + key_len], body[start + key_len :]


def iter_frames(data: bytes | memoryview, start: int) -> Iterator[tuple[int, int, ScanStop | None]]:
    """Yield ``(offset, framed_length, None)`` per valid frame, then at most one stop reason."""
    view = memoryview(data)
    pos, end = start, len(view)
    while pos < end:
        if end - pos < FRAME.size:
            yield pos, 0, ScanStop.SHORT
            return
        size, crc = FRAME.unpack_from(view, pos)
        if size > MAX_PAYLOAD:
            yield pos, 0, ScanStop.HEADER
            return
        body_end = pos + FRAME.size + size
        if body_end > end:
            yield pos, 0, ScanStop.SHORT
            return
        if zlib.crc32(view[pos + FRAME.size : body_end]) != crc:
            yield pos, 0, ScanStop.CRC
            return
        yield pos, body_end - pos, None
        pos = body_end


def scan_records(data: bytes, start: int = len(SEGMENT_MAGIC)) -> Scan:
    """Every valid record of a segment's bytes from ``start``."""
    records: list[ScannedRecord] = []
    view = memoryview(data)
    valid_end = start
    for offset, length, stop in iter_frames(view, start):
        if stop is not None:
            return Scan(tuple(records), valid_end, stop)
        header = parse_header(view[offset + FRAME.size : offset + length])
        if header is None:
            return Scan(tuple(records), valid_end, ScanStop.HEADER)
        records.append(ScannedRecord(header, offset, length))
        valid_end = offset + length
    return Scan(tuple(records), valid_end, None)


def verify_frame(framed: bytes) -> bytes:
    """The payload of one framed record read back; ValueError when length or CRC are wrong."""
    if len(framed) < FRAME.size:
        raise ValueError("short read")
    size, crc = FRAME.unpack_from(framed)
    payload = framed[FRAME.size :]
    if size != len(payload) or zlib.crc32(payload) != crc:
        raise ValueError("CRC mismatch")
    return payload


def encode_acks(locations: Sequence[tuple[int, int]]) -> bytes:
    """A framed ack entry for ``(segment, offset)`` pairs."""
    body = b"".join(ACK_PAIR.pack(seg, off) for seg, off in locations)
    return frame(bytes([ACK_KIND]) + body)


def scan_acks(data: bytes) -> tuple[set[tuple[int, int]], int, ScanStop | None]:
    """The acknowledged ``(segment, offset)`` pairs of an ack log, its valid end, stop reason."""
    acked: set[tuple[int, int]] = set()
    view = memoryview(data)
    valid_end = len(ACK_MAGIC)
    for offset, length, stop in iter_frames(view, len(ACK_MAGIC)):
        if stop is not None:
            return acked, valid_end, stop
        payload = view[offset + FRAME.size : offset + length]
        if len(payload) < 1 or payload[0] != ACK_KIND or (len(payload) - 1) % ACK_PAIR.size:
            return acked, valid_end, ScanStop.HEADER
        acked.update(ACK_PAIR.iter_unpack(payload[1:]))
        valid_end = offset + length
    return acked, valid_end, None
