"""One fuzz harness per parser: feed one input, enforce the parser's error contract.

A harness returns for every input the parser either accepts or refuses with one of its
documented error classes; anything else escapes (IndexError, KeyError, UnicodeError,
struct.error, RecursionError, MemoryError, a failed post-condition ...) and is a crash.
Harnesses are plain functions over bytes: ``fuzz/run.py`` drives them with atheris, and
``tests/fuzz`` replays the saved corpus through them without it.

The first byte of an input usually selects a variant (which schema, which limits, which
authentication); the rest is what the parser reads.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import io
import json
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from codegen.avro_schema import SchemaFile
from codegen.avro_ts import compile_types
from codegen.exceptions import CodegenError
from codegen.openapi30 import to_openapi_30
from streams.anonymize import images
from streams.anonymize.exceptions import ImageError
from streams.avro_reader import READ_ERRORS, Reader, compile_reader
from streams.codec import DEFAULT_SCHEMA_DIR, AvroCodec, CodecError, without_attribute
from streams.policy.avro import CHANGE, RECORD, change_record, row_to_record
from streams.policy.crypto import PolicyCipher
from streams.policy.exceptions import PolicyError
from streams.policy.resolve import PolicyRow, Tombstone
from streams.policy.webhook import ReplayGuard, WebhookVerifier, parse_body, plan_change, sign
from streams.spool.cipher import SpoolCipher
from streams.spool.config import FsyncPolicy, Persistence, QueueConfig
from streams.spool.exceptions import CorruptRecordError, SpoolKeyError
from streams.spool.framing import ACK_MAGIC, FRAME, SEGMENT_MAGIC
from streams.spool.queue import ResilienceQueue
from streams.spool.recovery import open_spool
from streams.spool.segments import ACK_LOG, SegmentStore
from streams.web.policies import validate_request

# Fixed secrets: the seed corpus is signed and encrypted with them (fuzz/seeds.py).
WEBHOOK_SECRET = b"fuzz-webhook-secret"
WEBHOOK_NOW = 1_700_000_000.0
POLICY_KEY_SETTING = "k1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=,k0:MDEyMzQ1Njc4OWFiY2RlZg=="
POLICY_AAD = b"camguard.policy.v1|camguard/privacy/acme/cam-1|row-1"
SPOOL_KEY = "c3Bvb2wta2V5LWZvci1mdXp6aW5nLTMyLWJ5dGVzISE="
SEGMENT_BYTES = 1 << 20
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class Harness:
    """A named fuzz target: the function and the source files worth instrumenting."""

    name: str
    run: Callable[[bytes], None]
    sources: tuple[str, ...]
    """Path fragments of the code atheris instruments for coverage (``fuzz/run.py``)."""
    max_len: int = 4096
    json: bool = False
    """Inputs carry JSON: fuzz/json_mutator.py mutates its structure half of the time."""


# --- shared, made once per process ---------------------------------------------------------


@functools.cache
def _codec() -> AvroCodec:
    return AvroCodec()


def schema_paths() -> list[Path]:
    """Every schema version kept in schemas/avro: the current files, then history/."""
    paths = sorted(DEFAULT_SCHEMA_DIR.glob("*.avsc"))
    return paths + sorted(DEFAULT_SCHEMA_DIR.glob("history/*/*.avsc"))


@functools.cache
def _readers() -> tuple[tuple[str, Reader, Any], ...]:
    """Every kept schema version: its file stem, compiled reader, plain fastavro form."""
    out = []
    for path in schema_paths():
        raw = json.loads(path.read_text())
        plain = fastavro.parse_schema(without_attribute(raw, "logicalType"))
        out.append((path.stem, compile_reader(raw), plain))
    return tuple(out)


@functools.cache
def scratch() -> Path:
    """A private temporary folder (tmpfs when there is one), removed at exit."""
    shm = Path("/dev/shm")
    base = tempfile.mkdtemp(prefix="camguard-fuzz-", dir=shm if shm.is_dir() else None)
    atexit.register(shutil.rmtree, base, True)
    return Path(base)


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN included (repr of floats round-trips)."""
    return repr(a) == repr(b)


# --- Avro ----------------------------------------------------------------------------------


def codec(data: bytes) -> None:
    """streams.codec.AvroCodec: decode, decode_as and plain_decoder; only CodecError escapes."""
    if not data:
        return
    avro = _codec()
    names = avro.catalog.names
    mode, message = data[0], data[1:]
    name = names[(mode >> 2) % len(names)]
    try:
        if mode & 3 == 0:
            decoded, record = avro.decode(message)
            assert decoded in names, decoded
            assert isinstance(record, dict)
        elif mode & 3 == 1:
            avro.decode(message, logical_types=False)
        elif mode & 3 == 2:
            avro.decode_as(name, message)
        else:
            fast = avro.plain_decoder(name)(message)
            assert _same(fast, avro.decode_as(name, message, logical_types=False))
    except CodecError:
        pass


def avro_reader(data: bytes) -> None:
    """streams.avro_reader: a compiled reader raises only READ_ERRORS and agrees with fastavro.

    Every version in schemas/avro (current and history), picked by the first byte.
    """
    if not data:
        return
    _, read, plain = _readers()[data[0] % len(_readers())]
    try:
        record, end = read(data, 1)
    except READ_ERRORS:
        return
    assert 1 <= end <= len(data), f"reader ended at {end} of {len(data)}"
    body = io.BytesIO(data[1:end])
    expected = fastavro.schemaless_reader(body, plain, None)
    assert body.tell() == end - 1, f"fastavro read {body.tell()} bytes, compiled {end - 1}"
    assert _same(record, expected), f"compiled {record!r} != fastavro {expected!r}"


# --- images --------------------------------------------------------------------------------

_PIXEL_LIMITS = (1 << 12, 1 << 16, 1 << 18, 1 << 40)
_EXPECTED: tuple[images.Encoding | None, ...] = (None, "JPEG", "PNG", None)


def image(data: bytes) -> None:
    """streams.anonymize.images: read_header, check_header, decode; only ImageError escapes.

    Byte 0: bits 0-1 the pixel limit (the largest only checks headers: a pixel-limit bomb must
    be refused before decoding), bits 2-3 the declared size (none, the header's, transposed,
    off by one), bits 4-5 the declared encoding.
    """
    if not data:
        return
    mode, body = data[0], data[1:]
    limit = _PIXEL_LIMITS[mode & 3]
    expected = _EXPECTED[(mode >> 4) & 3]
    try:
        header = images.read_header(body)
        assert min(header.width, header.height) > 0
        declared = [
            None,
            (header.width, header.height),
            (header.height, header.width),
            (header.width + 1, header.height),
        ][(mode >> 2) & 3]
        checked = images.check_header(body, limit, declared, expected)
        assert checked.pixels <= limit
        if limit > _PIXEL_LIMITS[2]:
            return
        frame, decoded = images.decode(body, limit, declared, expected)
        assert frame.shape == (decoded.height, decoded.width, 3), frame.shape
        assert str(frame.dtype) == "uint8"
    except ImageError:
        pass


# --- policy webhook and crypto -------------------------------------------------------------


class _NoRows:
    """A policy book that holds nothing (plan_change's ``HeldRows``)."""

    def get(self, key: str) -> PolicyRow | None:
        return None

    def tombstone(self, key: str) -> Tombstone | None:
        return None


def _raw_headers(block: bytes) -> dict[str, str]:
    """``Name: value`` lines decoded as aiohttp does (UTF-8, surrogateescape)."""
    headers: dict[str, str] = {}
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        headers[name.decode("utf-8", "surrogateescape").strip()] = value.decode(
            "utf-8", "surrogateescape"
        ).strip()
    return headers


def webhook(data: bytes) -> None:
    """streams.policy.webhook + payload as the POST view runs them (size, authentication,
    parse, the view's request model, plan, encoding what it publishes); only PolicyError escapes.

    Byte 0 even: the rest is a body signed correctly (so the body parser is reached); odd: the
    rest is ``header lines`` + blank line + body (the signature checks are fuzzed).
    """
    if not data:
        return
    verifier = WebhookVerifier(WEBHOOK_SECRET, 300.0, 64 * 1024, ReplayGuard(300.0))
    if data[0] & 1 == 0:
        body = data[1:]
        stamp = str(int(WEBHOOK_NOW))
        headers = {
            "X-Camguard-Timestamp": stamp,
            "X-Camguard-Signature": sign(WEBHOOK_SECRET, stamp, body),
        }
    else:
        block, _, body = data[1:].partition(b"\n\n")
        headers = _raw_headers(block)
    try:
        verifier.check_size(None, body)
        verifier.authenticate(headers, body, WEBHOOK_NOW)
        event = parse_body(body)
        validate_request(body)  # the view's check against its OpenAPI document
        plan = plan_change(event, _NoRows())
        # What the view publishes next: an accepted change must encode (else a 500).
        for _, row in plan.records:
            if row is not None:
                _codec().encode(RECORD, row_to_record(row, None))
        for entry in plan.audit:
            change = change_record(
                entry.key, entry.operation, entry.old, entry.new, "fuzz", 0, None
            )
            _codec().encode(CHANGE, change)
    except PolicyError:
        pass


@functools.cache
def _policy_cipher() -> PolicyCipher:
    return PolicyCipher.from_setting(POLICY_KEY_SETTING)


def policy_crypto(data: bytes) -> None:
    """streams.policy.crypto: decrypt (byte 0 even) and the key setting (odd).

    Only PolicyDecryptError / PolicyKeyConfigError (PolicyError) escape. Text is decoded with
    surrogateescape, a superset of what an Avro string field can carry.
    """
    if not data:
        return
    text = data[1:].decode("utf-8", "surrogateescape")
    try:
        if data[0] & 1 == 0:
            plain = _policy_cipher().decrypt(text, POLICY_AAD)
            assert isinstance(plain, str)
        else:
            cipher = PolicyCipher.from_setting(text)
            assert cipher.active_key_id in cipher.keys
    except PolicyError:
        pass


# --- spool ---------------------------------------------------------------------------------


@functools.cache
def _spool_cipher() -> SpoolCipher:
    return SpoolCipher.from_text(SPOOL_KEY)


def _fix_crcs(data: bytes, start: int) -> bytes:
    """``data`` with each whole frame's CRC32 recomputed, so mutations reach the parsers
    behind the CRC check (record headers, bodies, ack pairs) instead of stopping at it."""
    out = bytearray(data)
    pos = start
    while pos + FRAME.size <= len(out):
        (size,) = _U32.unpack_from(out, pos)
        end = pos + FRAME.size + size
        if end > len(out):
            break
        _U32.pack_into(out, pos + 4, zlib.crc32(out[pos + FRAME.size : end]))
        pos = end
    return bytes(out)


def _spool_files(data: bytes) -> tuple[int, list[bytes], bytes | None]:
    """Byte 0 (flags), segment contents and ack log contents of an input.

    Flags: bit 0 the spool key is configured, bit 1 an ack log is present (u16 length first),
    bit 2 an earlier segment comes first (u16 length first; damage there is quarantined),
    bit 3 CRCs are recomputed, bit 4 the spool is opened and drained by a ResilienceQueue.
    """
    flags, rest = data[0], data[1:]
    ack: bytes | None = None
    segments: list[bytes] = []
    if flags & 2 and len(rest) >= 2:
        (size,) = _U16.unpack_from(rest)
        ack, rest = rest[2 : 2 + size], rest[2 + size :]
    if flags & 4 and len(rest) >= 2:
        (size,) = _U16.unpack_from(rest)
        segments.append(rest[2 : 2 + size])
        rest = rest[2 + size :]
    segments.append(rest)
    if flags & 8:
        segments = [_fix_crcs(segment, len(SEGMENT_MAGIC)) for segment in segments]
        ack = None if ack is None else _fix_crcs(ack, len(ACK_MAGIC))
    return flags, segments, ack


def _open_and_read(folder: Path, cipher: SpoolCipher | None) -> None:
    try:
        store, recovery = open_spool(
            folder, segment_bytes=SEGMENT_BYTES, cipher=cipher, fsync_on_rotate=False
        )
    except SpoolKeyError:
        return
    try:
        results = store.read([record.location for record in recovery.records])
        for result in results:
            assert isinstance(result, tuple | CorruptRecordError | SpoolKeyError), result
        assert recovery.next_seq > max((r.header.seq for r in recovery.records), default=-1)
    finally:
        store.close()


async def _drain(folder: Path, cipher: SpoolCipher | None) -> None:
    """Open ``folder`` as the gateway does (a ResilienceQueue) and take and ack everything."""
    config = QueueConfig(
        spool_dir=folder.parent,
        persistence=Persistence.ALWAYS,
        fsync=FsyncPolicy.NEVER,
        segment_bytes=SEGMENT_BYTES,
    )
    queue = ResilienceQueue(folder.name, config, clock=lambda: WEBHOOK_NOW, cipher=cipher)
    try:
        await queue.open()
    except SpoolKeyError:
        return
    try:
        for _ in range(1000):
            items = await queue.dequeue_batch(64)
            if not items:
                break
            await queue.ack(items)
        assert queue.stats().total_queued == 0, queue.stats()
    finally:
        await queue.close()


def spool(data: bytes) -> None:
    """streams.spool recovery: open a spool folder holding fuzzed segment and ack-log files.

    Opening may refuse with SpoolKeyError only; every live record it reports must read back
    as ``(key, value)`` or as a CorruptRecordError / SpoolKeyError value (errors are data);
    a ResilienceQueue opening it drains it completely.
    """
    if not data:
        return
    flags, segments, ack = _spool_files(data)
    folder = scratch() / "spool"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for number, content in enumerate(segments, start=1):
        SegmentStore(folder, segment_bytes=SEGMENT_BYTES).segment_path(number).write_bytes(content)
    if ack is not None:
        (folder / ACK_LOG).write_bytes(ack)
    cipher = _spool_cipher() if flags & 1 else None
    if flags & 16:
        asyncio.run(_drain(folder, cipher))
    else:
        _open_and_read(folder, cipher)


# --- codegen -------------------------------------------------------------------------------


def avsc(data: bytes) -> None:
    """codegen: an .avsc file read by SchemaFile.load and compiled to TypeScript.

    Only CodegenError (SchemaDefinitionError) escapes.
    """
    path = scratch() / "Fuzz.avsc"
    path.write_bytes(data)
    try:
        schema = SchemaFile.load(path)
        assert isinstance(compile_types([schema]), str)
    except CodegenError:
        pass


def openapi30(data: bytes) -> None:
    """codegen.openapi30: a fuzzed OpenAPI document (any JSON object) converted to 3.0.3.

    Only CodegenError escapes; bytes that are no JSON object are not a document and skipped.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(document, dict):
        return
    try:
        converted = to_openapi_30(document)
        assert converted["openapi"] == "3.0.3"
    except CodegenError:
        pass


HARNESSES: dict[str, Harness] = {
    h.name: h
    for h in (
        Harness("codec", codec, ("streams/codec.py", "streams/avro_reader.py", "<avro reader")),
        Harness("avro_reader", avro_reader, ("streams/avro_reader.py", "<avro reader")),
        Harness("image", image, ("streams/anonymize/images.py",), max_len=16384),
        Harness("webhook", webhook, ("streams/policy/", "web/policies.py"), 8192, json=True),
        Harness("policy_crypto", policy_crypto, ("streams/policy/crypto.py",)),
        Harness("spool", spool, ("streams/spool/",), max_len=8192),
        Harness("avsc", avsc, ("codegen/avro_schema.py", "codegen/avro_ts.py"), 8192, json=True),
        Harness("openapi30", openapi30, ("codegen/openapi30.py",), 8192, json=True),
    )
}
"""Every harness by name; ``fuzz/corpus/<name>/`` holds its seeds."""
