"""The Avro single-object codec: round trips, interoperability with plain fastavro, bad input."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import (
    MAGIC,
    AvroCodec,
    NotAvroError,
    SchemaCatalog,
    SchemaMismatchError,
    TruncatedBodyError,
    UnknownFingerprintError,
    crc64_avro,
    fingerprint,
)

CODEC = AvroCodec()
NAMES = CODEC.catalog.names


def test_every_contract_record_is_known() -> None:
    assert set(NAMES) >= {
        "Frame",
        "AnonymizedFrame",
        "Box",
        "CameraEvent",
        "CameraHealth",
        "BreakerTransition",
        "PolicyRecord",
        "PolicyChange",
        "DeadLetter",
    }


def test_every_field_has_a_doc() -> None:
    for name in NAMES:
        raw = CODEC.catalog.current(name).raw
        assert raw["namespace"] == "camguard.v1"
        for f in raw["fields"]:
            assert f.get("doc"), f"{name}.{f['name']} has no doc"


def test_crc64_matches_fastavro_for_every_schema() -> None:
    for name in NAMES:
        raw = CODEC.catalog.current(name).raw
        canonical = to_parsing_canonical_form(fastavro.parse_schema(dict(raw)))
        expected = fastavro_fingerprint(canonical, "CRC-64-AVRO")
        assert fingerprint(raw).hex() == expected


def test_crc64_of_empty_input_is_the_empty_constant() -> None:
    # The Avro specification's EMPTY fingerprint for zero bytes.
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


# ---- hypothesis: a strategy for any value of any Avro schema -----------------------------


def _strategy(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, str):
        if schema in named:
            return _strategy(named[schema], named)
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "float": st.floats(width=32, allow_nan=False),
            "double": st.floats(allow_nan=False),
            "string": st.text(max_size=20),
            "bytes": st.binary(max_size=64),
        }[schema]
    if isinstance(schema, list):
        return st.one_of(*[_strategy(s, named) for s in schema])
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return st.integers(0, 4_102_444_800_000).map(
            lambda ms: datetime.fromtimestamp(ms / 1000, tz=UTC)
        )
    if kind == "record":
        named[schema["name"]] = schema
        named[f"{schema.get('namespace', 'camguard.v1')}.{schema['name']}"] = schema
        return st.fixed_dictionaries(
            {f["name"]: _strategy(f["type"], named) for f in schema["fields"]}
        )
    if kind == "enum":
        named[schema["name"]] = schema
        named[f"{schema.get('namespace', 'camguard.v1')}.{schema['name']}"] = schema
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(_strategy(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _strategy(schema["values"], named), max_size=4)
    return _strategy(kind, named)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_schema(name: str, data: st.DataObject) -> None:
    raw = CODEC.catalog.current(name).raw
    record = data.draw(_strategy(json.loads(json.dumps(raw)), {}))
    encoded = CODEC.encode(name, record)
    assert encoded[:2] == MAGIC
    decoded_name, decoded = CODEC.decode(encoded)
    assert decoded_name == name
    # float fields lose precision to 32 bits; compare via a re-encode, which is exact.
    assert CODEC.encode(name, decoded) == encoded


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_bytes_from_a_plain_fastavro_writer_are_read(name: str, data: st.DataObject) -> None:
    raw = json.loads(json.dumps(CODEC.catalog.current(name).raw))
    record = data.draw(_strategy(raw, {}))
    parsed = fastavro.parse_schema(raw)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, record)
    # fastavro's hex is already the little-endian byte order of the wire format.
    header = b"\xc3\x01" + bytes.fromhex(
        fastavro_fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO")
    )
    assert CODEC.decode(header + body.getvalue())[0] == name


# ---- bad input ---------------------------------------------------------------------------


def _frame() -> dict[str, Any]:
    return {
        "camera_id": "cam-1",
        "captured_at": 1_700_000_000_000,
        "seq": 7,
        "encoding": "JPEG",
        "width": 4,
        "height": 3,
        "data": b"\xff\xd8jpeg",
    }


def test_garbage_is_not_avro() -> None:
    with pytest.raises(NotAvroError) as info:
        CODEC.decode(b"hello world, not avro")
    assert info.value.reason == "not_avro"


def test_unknown_fingerprint() -> None:
    encoded = CODEC.encode("Frame", _frame())
    bad = encoded[:2] + b"\x00" * 8 + encoded[10:]
    with pytest.raises(UnknownFingerprintError) as info:
        CODEC.decode(bad)
    assert info.value.reason == "unknown_fingerprint"


@pytest.mark.parametrize("cut", [1, 3, 8])
def test_truncated_body(cut: int) -> None:
    encoded = CODEC.encode("Frame", _frame())
    with pytest.raises(TruncatedBodyError):
        CODEC.decode(encoded[:-cut])


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(TruncatedBodyError):
        CODEC.decode(CODEC.encode("Frame", _frame()) + b"\x00\x01")


def test_record_of_another_type_is_a_mismatch() -> None:
    encoded = CODEC.encode("Frame", _frame())
    with pytest.raises(SchemaMismatchError):
        CODEC.decode_as("CameraEvent", encoded)


def test_older_writer_schema_is_resolved_to_the_current_reader() -> None:
    current = json.loads(json.dumps(CODEC.catalog.current("Frame").raw))
    old = json.loads(json.dumps(current))
    old["fields"] = [f for f in old["fields"] if f["name"] != "site_id"]
    catalog = SchemaCatalog([current], history=[old])
    codec = AvroCodec(catalog)
    old_parsed = fastavro.parse_schema(old)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old_parsed, _frame())
    message = MAGIC + fingerprint(old) + body.getvalue()
    name, record = codec.decode(message)
    assert name == "Frame"
    assert record["site_id"] is None
    assert record["seq"] == 7


def test_decode_without_logical_types_keeps_epoch_millis() -> None:
    at = datetime(2026, 11, 28, 12, 30, 15, 250_000, tzinfo=UTC)
    record = {
        "event_id": "e-1",
        "camera_id": "cam-1",
        "occurred_at": at,
        "kind": "FRAME_OK",
        "latency_ms": 4.5,
        "attributes": {"fw": "1.2"},
    }
    data = CODEC.encode("CameraEvent", record)
    typed = CODEC.decode_as("CameraEvent", data)
    plain = CODEC.decode_as("CameraEvent", data, logical_types=False)
    assert typed["occurred_at"] == at
    assert plain["occurred_at"] == round(at.timestamp() * 1000)
    assert {k: v for k, v in plain.items() if k != "occurred_at"} == {
        k: v for k, v in typed.items() if k != "occurred_at"
    }


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_reader_equals_fastavro_without_logical_types(
    name: str, data: st.DataObject
) -> None:
    version = CODEC.catalog.current(name)
    record = data.draw(_strategy(json.loads(json.dumps(version.raw)), {}))
    encoded = CODEC.encode(name, record)
    fastavro_plain = fastavro.schemaless_reader(io.BytesIO(encoded[10:]), version.plain)
    assert CODEC.decode_as(name, encoded, logical_types=False) == fastavro_plain
    # Every truncation and one flipped byte: a codec error or a valid record, never a crash.
    for cut in range(10, len(encoded)):
        with pytest.raises(TruncatedBodyError):
            CODEC.decode_as(name, encoded[:cut], logical_types=False)
    flip = data.draw(st.integers(10, len(encoded) - 1))
    corrupt = bytearray(encoded)
    corrupt[flip] ^= 0xFF
    with contextlib.suppress(TruncatedBodyError):
        CODEC.decode_as(name, bytes(corrupt), logical_types=False)


def test_plain_decoder_reads_current_and_older_versions_and_rejects_bad_bytes() -> None:
    current = json.loads(json.dumps(CODEC.catalog.current("Frame").raw))
    old = json.loads(json.dumps(current))
    old["fields"] = [f for f in old["fields"] if f["name"] != "site_id"]
    codec = AvroCodec(SchemaCatalog([current], history=[old]))
    decode = codec.plain_decoder("Frame")
    new_message = codec.encode("Frame", _frame())
    assert decode(new_message) == codec.decode_as("Frame", new_message, logical_types=False)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(old), _frame())
    old_record = decode(MAGIC + fingerprint(old) + body.getvalue())  # resolved by fastavro
    assert old_record["site_id"] is None
    assert old_record["seq"] == 7
    with pytest.raises(TruncatedBodyError):
        decode(new_message + b"\x00")
    with pytest.raises(TruncatedBodyError):
        decode(new_message[:-1])
    with pytest.raises(SchemaMismatchError):
        CODEC.plain_decoder("CameraEvent")(CODEC.encode("Frame", _frame()))
    with pytest.raises(NotAvroError):
        decode(None)  # type: ignore[arg-type]  # a tombstone: no value at all
    with pytest.raises(NotAvroError):
        decode(b"not avro at all")
