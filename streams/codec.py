"""Avro single-object encoding (the Avro specification's, no registry) with fastavro.

A message is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
parsing canonical form + the Avro binary body. Any Avro library can read it given the schema.

:class:`SchemaCatalog` knows every schema version kept in ``schemas/avro`` (current files and
``schemas/avro/history/<Name>/*.avsc``); :class:`AvroCodec` encodes with the current version and
decodes any known version into the current reader schema (Avro schema resolution). Decoding
errors are :class:`CodecError` subclasses whose ``reason`` goes into the dead-letter record.

Records are plain dicts. ``timestamp-millis`` fields may be written as epoch-ms ints or aware
datetimes and are read back as aware UTC datetimes (fastavro's logical-type mapping).
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from streams.assets import assets_root
from streams.avro_reader import READ_ERRORS, Reader, compile_reader
from streams.exceptions import CamguardError

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8
SCHEMA_NAMESPACE = "camguard.v1"
DEFAULT_SCHEMA_DIR = assets_root() / "schemas" / "avro"  # the wheel's copy or the checkout's

_EMPTY64 = 0xC15D213AA4D7A795


def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO (the Rabin fingerprint of the Avro specification) of ``data``."""
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema: Any) -> bytes:
    """The 8 fingerprint bytes, little-endian, of a schema's parsing canonical form."""
    canonical: str = to_parsing_canonical_form(schema)
    return struct.pack("<Q", crc64_avro(canonical.encode("utf-8")))


class CodecError(CamguardError):
    """A message could not be decoded or encoded. ``reason`` is the dead-letter reason."""

    reason = "codec_error"


class NotAvroError(CodecError):
    """The bytes do not start with the single-object marker C3 01.

    The producer is not using camguard's wire format; the message is dead-lettered.
    """

    reason = "not_avro"


class UnknownFingerprintError(CodecError):
    """The writer schema's fingerprint is not among the schemas this process knows.

    Deploy the newer schema (schemas/avro) to this worker; the message is dead-lettered.
    """

    reason = "unknown_fingerprint"

    def __init__(self, fingerprint_hex: str) -> None:
        super().__init__(f"unknown writer schema fingerprint {fingerprint_hex}")
        self.fingerprint_hex = fingerprint_hex


class TruncatedBodyError(CodecError):
    """The Avro body ended early or carried extra bytes; the message is dead-lettered."""

    reason = "truncated"


class SchemaMismatchError(CodecError):
    """The message is valid Avro but of another record type than the topic carries."""

    reason = "wrong_schema"


class InvalidRecordError(CodecError):
    """A record did not match its schema when encoding; fix the producer's data."""

    reason = "invalid"


@dataclass(frozen=True)
class SchemaVersion:
    """One parsed version of a named record schema."""

    name: str
    fingerprint: bytes
    parsed: Any
    """fastavro's parsed form, marked as parsed: fastavro re-parses an unmarked schema on
    every ``schemaless_reader`` / ``schemaless_writer`` call, which cost 5 of the 9 us of
    decoding a ``CameraEvent``."""
    raw: Mapping[str, Any]
    plain: Any
    """``parsed`` without logical types: timestamps stay epoch-millisecond ints (no
    ``datetime`` built and taken apart again on the events hot path)."""
    read_plain: Reader
    """A reader compiled for this version (:mod:`streams.avro_reader`), same values as
    fastavro with ``plain``, in about half the time."""


def without_attribute(schema: Any, name: str) -> Any:
    """A copy of JSON ``schema`` with attribute ``name`` dropped at every level.

    ``logicalType`` (same encoding, plain values) here; ``doc`` in codegen's compatibility
    checks (docs never affect it).
    """
    if isinstance(schema, Mapping):
        return {k: without_attribute(v, name) for k, v in schema.items() if k != name}
    if isinstance(schema, list):
        return [without_attribute(item, name) for item in schema]
    return schema


def _short_name(schema: Mapping[str, Any]) -> str:
    return str(schema["name"]).rsplit(".", 1)[-1]


class SchemaCatalog:
    """Every known schema version, by fingerprint, and the current version by name."""

    def __init__(
        self, current: Iterable[Mapping[str, Any]], history: Iterable[Mapping[str, Any]] = ()
    ) -> None:
        self._current: dict[str, SchemaVersion] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for raw in current:
            version = self._add(raw)
            self._current[version.name] = version
        for raw in history:
            self._add(raw)

    def _add(self, raw: Mapping[str, Any]) -> SchemaVersion:
        canonical = fastavro.parse_schema(dict(raw), _write_hint=False)
        parsed = fastavro.parse_schema(dict(raw))
        plain = fastavro.parse_schema(without_attribute(raw, "logicalType"))
        version = SchemaVersion(
            _short_name(raw), fingerprint(canonical), parsed, raw, plain, compile_reader(dict(raw))
        )
        self._by_fingerprint.setdefault(version.fingerprint, version)
        return version

    @classmethod
    def from_dir(cls, directory: Path = DEFAULT_SCHEMA_DIR) -> SchemaCatalog:
        """Load ``*.avsc`` as current versions and ``history/*/*.avsc`` as older ones."""
        current = [json.loads(p.read_text()) for p in sorted(directory.glob("*.avsc"))]
        history = [json.loads(p.read_text()) for p in sorted(directory.glob("history/*/*.avsc"))]
        return cls(current, history)

    @property
    def names(self) -> list[str]:
        return sorted(self._current)

    def current(self, name: str) -> SchemaVersion:
        try:
            return self._current[name]
        except KeyError:
            raise KeyError(f"no Avro schema named {name!r}; known: {self.names}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fp)


class AvroCodec:
    """Encode and decode single-object-encoded Avro messages."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self.catalog = catalog or SchemaCatalog.from_dir()
        self._plain_decoders: dict[str, Callable[[bytes], dict[str, Any]]] = {}

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with the current version of schema ``name``."""
        version = self.catalog.current(name)
        out = io.BytesIO()
        out.write(MAGIC)
        out.write(version.fingerprint)
        try:
            fastavro.schemaless_writer(out, version.parsed, dict(record))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidRecordError(f"{name}: {exc}") from exc
        return out.getvalue()

    def decode(
        self, data: bytes, expected: str | None = None, logical_types: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """Decode ``data`` into ``(schema name, record)`` using the current reader schema.

        With ``expected`` set, a message of another record type raises SchemaMismatchError.
        With ``logical_types=False`` values keep their Avro primitive types (a
        ``timestamp-millis`` field is an int of epoch milliseconds, not a ``datetime``).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise NotAvroError(f"no message body ({type(data).__name__})")
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise NotAvroError("missing Avro single-object marker C3 01")
        fp = bytes(data[2:HEADER_SIZE])
        writer = self.catalog.by_fingerprint(fp)
        if writer is None:
            raise UnknownFingerprintError(fp.hex())
        if expected is not None and writer.name != expected:
            raise SchemaMismatchError(f"expected {expected}, got {writer.name}")
        reader = self.catalog.current(writer.name)
        if not logical_types and reader is writer:
            return writer.name, self._read_compiled(writer, data)
        body = io.BytesIO(data[HEADER_SIZE:])
        writer_schema = writer.parsed if logical_types else writer.plain
        reader_schema = reader.parsed if logical_types else reader.plain
        try:
            record = fastavro.schemaless_reader(
                body, writer_schema, reader_schema if reader is not writer else None
            )
        except Exception as exc:  # fastavro raises EOFError, struct.error, ValueError, ...
            raise TruncatedBodyError(f"{writer.name}: body unreadable ({exc!r})") from exc
        if body.tell() != len(data) - HEADER_SIZE:
            raise TruncatedBodyError(
                f"{writer.name}: {len(data) - HEADER_SIZE - body.tell()} "
                "trailing bytes after the record"
            )
        if not isinstance(record, dict):
            raise SchemaMismatchError(f"{writer.name} is not a record schema")
        return writer.name, record

    @staticmethod
    def _read_compiled(version: SchemaVersion, data: bytes) -> dict[str, Any]:
        try:
            record, end = version.read_plain(data, HEADER_SIZE)
        except READ_ERRORS as exc:
            raise TruncatedBodyError(f"{version.name}: body unreadable ({exc!r})") from exc
        if end != len(data):
            raise TruncatedBodyError(
                f"{version.name}: {len(data) - end} trailing bytes after the record"
            )
        result: dict[str, Any] = record
        return result

    def plain_decoder(self, name: str) -> Callable[[bytes], dict[str, Any]]:
        """``decode_as(name, data, logical_types=False)``, fastest for the current version.

        A message written with the current schema is read by its compiled reader straight
        away; anything else (older versions, other types, bad bytes) takes :meth:`decode_as`,
        which resolves or raises the same typed errors. For per-message hot paths; made once
        per name.
        """
        made = self._plain_decoders.get(name)
        if made is not None:
            return made
        version = self.catalog.current(name)
        header = MAGIC + version.fingerprint
        read = version.read_plain
        fallback = partial(self.decode_as, name, logical_types=False)

        def decode(data: bytes) -> dict[str, Any]:
            if type(data) is bytes and data.startswith(header):
                try:
                    record, end = read(data, HEADER_SIZE)
                except READ_ERRORS:
                    return fallback(data)  # raises the typed error
                if end == len(data):
                    result: dict[str, Any] = record
                    return result
            return fallback(data)

        self._plain_decoders[name] = decode
        return decode

    def decode_as(self, name: str, data: bytes, logical_types: bool = True) -> dict[str, Any]:
        """Decode a message that must be of record type ``name``."""
        return self.decode(data, expected=name, logical_types=logical_types)[1]
