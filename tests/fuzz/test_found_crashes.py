"""Every crash fuzzing found, as the smallest input that shows it, with the answer now given.

The inputs fuzzing saved are replayed too (``fuzz/corpus/<target>/crash-*``); these tests
spell each out so the behaviour a user would notice is named.
"""

from __future__ import annotations

import io
import json
import resource
import struct
import zlib
from pathlib import Path

import cv2
import fastavro
import numpy as np
import pytest

from codegen.avro_schema import SchemaFile
from codegen.avro_ts import compile_types
from codegen.exceptions import OpenApiDocumentError, SchemaDefinitionError
from codegen.openapi30 import SchemaDowngrade, to_openapi_30
from streams.anonymize.exceptions import CorruptImageError
from streams.anonymize.images import PNG_SIGNATURE, check_header, decode
from streams.avro_reader import compile_reader
from streams.policy.exceptions import MalformedPayloadError, UnauthenticatedError
from streams.policy.webhook import WebhookVerifier, parse_body, sign

SECRET = b"s3cret"
NOW = 1_700_000_000.0

# --- streams/avro_reader.py: the compiled reader agrees with fastavro -----------------------

_SCHEMA = {
    "type": "record",
    "name": "R",
    "fields": [{"name": "n", "type": "long"}, {"name": "b", "type": "boolean"}],
}


def _both(body: bytes) -> tuple[object, object]:
    compiled, _ = compile_reader(_SCHEMA)(body, 0)
    plain = fastavro.parse_schema(_SCHEMA)
    return compiled, fastavro.schemaless_reader(io.BytesIO(body), plain, None)


def test_a_ten_byte_varint_with_bits_past_64_reads_as_a_64_bit_long() -> None:
    # Was 146254152604684648424 (an "Avro long" past 2^64) where fastavro reads 64 bits.
    body = bytes.fromhex("d0ffffffffb990afdb1f") + b"\x00"
    compiled, plain = _both(body)
    assert compiled == plain
    assert isinstance(compiled, dict)
    assert -(2**63) <= compiled["n"] < 2**63


@pytest.mark.parametrize("byte", [2, 0x80, 0xFF])
def test_a_boolean_byte_other_than_0_or_1_reads_as_fastavro_reads_it(byte: int) -> None:
    compiled, plain = _both(b"\x00" + bytes([byte]))
    assert compiled == plain == {"n": 0, "b": True}


# --- streams/anonymize/images.py: a PNG chunk cannot claim more bytes than the file has ------


def _png_claiming(length: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return PNG_SIGNATURE + chunk + struct.pack(">I", length) + b"IDAT" + b"\x00" * 60


def test_a_100_byte_png_declaring_a_2_gib_chunk_is_refused_before_decoding() -> None:
    # OpenCV 5 allocated and zeroed the declared 2.6 GB before finding the data missing.
    data = _png_claiming(0x9B00005B)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CorruptImageError, match="runs past the end"):
        decode(data, max_pixels=1 << 20)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024


def test_a_real_png_still_passes_the_chunk_check() -> None:
    ok, buffer = cv2.imencode(".png", np.zeros((10, 20, 3), np.uint8))
    assert ok
    assert check_header(bytes(buffer.tobytes()), 1000).width == 20


# --- streams/policy/webhook.py: header values aiohttp decoded with surrogateescape ----------


def _verifier() -> WebhookVerifier:
    return WebhookVerifier(SECRET, replay_window_s=300.0)


def test_a_shared_secret_with_undecodable_bytes_is_refused_not_a_500() -> None:
    # aiohttp gives b"\xbd" as "\udcbd"; .encode() raised UnicodeEncodeError.
    headers = {"Authorization": "Bearer s3c\udcbdret"}
    with pytest.raises(UnauthenticatedError, match="wrong webhook secret"):
        _verifier().authenticate(headers, b"{}", NOW)


def test_a_signature_with_undecodable_bytes_is_refused_not_a_500() -> None:
    stamp = str(int(NOW))
    headers = {"X-Camguard-Timestamp": stamp, "X-Camguard-Signature": "sha256=\udcd9, x"}
    with pytest.raises(UnauthenticatedError, match="does not match"):
        _verifier().authenticate(headers, b"{}", NOW)


@pytest.mark.parametrize(
    "stamp",
    [
        # NOW in fullwidth digits: float() reads them, sign() could not encode them (ascii)
        "".join(chr(0xFF10 + int(d)) for d in str(int(NOW))),
        "nan",  # compared false with the window, so it was never stale
        "inf",
    ],
)
def test_a_timestamp_that_is_not_ascii_unix_seconds_is_refused(stamp: str) -> None:
    headers = {"X-Camguard-Timestamp": stamp, "X-Camguard-Signature": "sha256=00"}
    with pytest.raises(UnauthenticatedError):
        _verifier().authenticate(headers, b"{}", NOW)


def test_a_nan_timestamp_signed_with_the_secret_is_still_refused() -> None:
    body = b"{}"
    headers = {"X-Camguard-Timestamp": "nan", "X-Camguard-Signature": sign(SECRET, "nan", body)}
    with pytest.raises(UnauthenticatedError, match="unix seconds"):
        _verifier().authenticate(headers, body, NOW)


def test_a_body_nested_deeper_than_the_json_decoder_recurses_is_malformed() -> None:
    body = json.dumps({"type": "INSERT"}).encode()[:-1] + b', "record": ' + b"[" * 100_000
    with pytest.raises(MalformedPayloadError, match="nested too deeply"):
        parse_body(body)


# --- codegen/avro_schema.py, avro_ts.py: an .avsc that is no Avro schema ---------------------


def _record(**attributes: object) -> dict[str, object]:
    return {"type": "record", "name": "R", "fields": [], **attributes}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array"}, "without 'items'"),  # was KeyError
        ({"type": "map"}, "without 'values'"),
        ({"type": "record", "fields": []}, "'name' must be"),
        (_record(name=7), "'name' must be"),
        (_record(fields=None), "'fields' must be"),
        (_record(fields=[{"type": "int"}]), "'fields' must be"),
        (_record(fields=["int"]), "'fields' must be"),
        ({"type": "enum", "name": "E"}, "'symbols' must be"),
        ({"type": "enum", "name": "E", "symbols": [1]}, "'symbols' must be"),
        ({"type": "fixed", "name": "F"}, "'size' must be"),
        (_record(namespace=1), "'namespace' must be"),
        (_record(aliases="A"), "'aliases' must be"),
        ([], "top-level type must be a record"),  # was AttributeError in the registry
        ("string", "top-level type must be a record"),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, "top-level type must be a record"),
        (_record(fields=[{"name": "f", "type": {"type": "map", "values": "array"}}]), "no type"),
        (_record(name="map"), "no type name"),  # was TypeError: 'map' read as a map schema
        (_record(fields=[{"name": "f", "type": {"type": "array", "items": "int"}}]), None),
    ],
)
def test_an_avsc_that_is_no_avro_record_schema_is_a_schema_definition_error(
    tmp_path: Path, schema: object, message: str | None
) -> None:
    path = tmp_path / "R.avsc"
    path.write_text(json.dumps(schema))
    if message is None:  # the valid control
        assert "export interface R" in compile_types([SchemaFile.load(path)])
        return
    with pytest.raises(SchemaDefinitionError, match=message):
        compile_types([SchemaFile.load(path)])


def test_an_avsc_that_is_not_utf8_or_nested_too_deeply_is_a_schema_definition_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "R.avsc"
    path.write_bytes(b'{"type": "\xff"}')  # was UnicodeDecodeError
    with pytest.raises(SchemaDefinitionError, match="invalid JSON"):
        SchemaFile.load(path)
    path.write_text("[" * 100_000)  # json.loads: RecursionError
    with pytest.raises(SchemaDefinitionError, match="nested too deeply"):
        SchemaFile.load(path)
    nested: object = "int"
    for _ in range(200):  # parses, but every reader recurses per level
        nested = {"type": "array", "items": nested}
    path.write_text(json.dumps(_record(fields=[{"name": "f", "type": nested}])))
    with pytest.raises(SchemaDefinitionError, match="nested more than"):
        SchemaFile.load(path)


# --- codegen/openapi30.py: parts of the wrong shape are left as they are ---------------------


@pytest.mark.parametrize(
    "document",
    [
        {"paths": {"/a": "not a path item"}},  # was AttributeError
        {"paths": {"/a": {"get": {"responses": {"200": True}}}}},
        {"paths": {"/a": {"get": {"responses": {"200": {"headers": []}}}}}},
        {"paths": {"/a": {"parameters": 5, "get": {"parameters": [7], "callbacks": []}}}},
        {"paths": []},
        {"info": "x", "components": {"schemas": {"A": {"enum": None}}}},  # was TypeError
        {"components": {"schemas": {"A": {"anyOf": "x", "allOf": 3, "prefixItems": {}}}}},
        {"components": {"schemas": {"A": {"anyOf": [1, {"type": "null"}]}}}},
        {"components": {"schemas": {"A": {"anyOf": [{"allOf": ["x"]}, {"type": "null"}]}}}},
        {"components": {"schemas": {"A": {"anyOf": [{"$ref": 1}, {"type": "null"}]}}}},
    ],
)
def test_an_openapi_document_of_odd_shape_converts_leaving_those_parts(
    document: dict[str, object],
) -> None:
    converted = to_openapi_30(document)
    assert converted["openapi"] == "3.0.3"


def test_a_typed_union_of_a_nested_anyof_and_null_converts() -> None:
    # was KeyError 'nullable': the nested anyOf is made nullable inside, not beside "type"
    branches = [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"type": "null"}]
    converted = SchemaDowngrade({}).schema({"type": "string", "anyOf": branches})
    assert next(iter(converted)) == "type"
    assert [b["nullable"] for b in converted["anyOf"]] == [True, True]


def test_an_openapi_document_nested_past_python_recursion_is_an_openapi_document_error() -> None:
    schema: dict[str, object] = {"type": "string"}
    for _ in range(2_000):
        schema = {"type": "array", "items": schema}
    with pytest.raises(OpenApiDocumentError, match="nested too deeply"):
        to_openapi_30({"components": {"schemas": {"Deep": schema}}})
