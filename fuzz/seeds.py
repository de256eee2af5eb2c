"""Seed corpora from real, valid inputs: ``python -m fuzz.seeds`` rewrites ``fuzz/corpus/``.

Every seed is made by the real producer of that input (the codec's encoder and fastavro for
Avro, OpenCV for JPEG/PNG, ``sign`` for webhooks, the spool's own SegmentStore, the policy
cipher, the schema files and OpenAPI documents in the repository), so fuzzing starts from
inputs that pass every check and mutates inward. Output is deterministic (seeded), so
regenerating it changes nothing unless a producer changed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import fastavro
import numpy as np

from fuzz import harnesses as h
from streams.anonymize.images import PNG_SIGNATURE
from streams.codec import MAGIC, fingerprint, without_attribute
from streams.policy.crypto import PolicyCipher
from streams.policy.webhook import sign
from streams.spool.framing import RecordHeader
from streams.spool.recovery import open_spool
from streams.spool.segments import ACK_LOG, NewRecord
from tests.unit.codegen.fusion_app import fusion_app

CORPUS = Path(__file__).resolve().parent / "corpus"
REPO = Path(__file__).resolve().parent.parent
Seeds = Iterator[tuple[str, bytes]]

# --- Avro ----------------------------------------------------------------------------------


def _value(schema: Any, named: dict[str, Any], rng: random.Random, full: bool) -> Any:
    """A valid value of ``schema`` (JSON form); ``full`` takes the richest union branch."""
    if isinstance(schema, str):
        if schema in named:
            return _value(named[schema], named, rng, full)
        return _primitive(schema, rng)
    if isinstance(schema, list):
        branch = schema[-1] if full else schema[0]
        return _value(branch, named, rng, full)
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
        named[f"{schema.get('namespace', 'camguard.v1')}.{schema['name']}"] = schema
    if kind == "record":
        return {f["name"]: _value(f["type"], named, rng, full) for f in schema["fields"]}
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "fixed":
        return rng.randbytes(schema["size"])
    if kind == "array":
        return [_value(schema["items"], named, rng, full) for _ in range(2 if full else 0)]
    if kind == "map":
        size = 2 if full else 0
        return {f"k{i}": _value(schema["values"], named, rng, full) for i in range(size)}
    return _primitive(kind, rng)


def _primitive(kind: str, rng: random.Random) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(2**31), 2**31 - 1)
    if kind == "long":
        return rng.randint(0, 2**41)
    if kind in ("float", "double"):
        return rng.choice([0.5, -1.25, 3.0, 1e300 if kind == "double" else 2.0])
    if kind == "bytes":
        return rng.randbytes(12)
    return rng.choice(["cam-1", "acme", "", "é✓"])


def _bodies() -> Iterator[tuple[int, str, str, bytes, bytes]]:
    """(version index, name, label, fingerprint, Avro body) of two records per kept version."""
    rng = random.Random(14)
    for index, path in enumerate(h.schema_paths()):
        raw = json.loads(path.read_text())
        plain = fastavro.parse_schema(without_attribute(raw, "logicalType"))
        print_fp = fingerprint(fastavro.parse_schema(dict(raw), _write_hint=False))
        for full in (False, True):
            out = io.BytesIO()
            fastavro.schemaless_writer(out, plain, _value(raw, {}, rng, full))
            label = f"{raw['name']}-v{index}-{'full' if full else 'min'}"
            yield index, raw["name"], label, print_fp, out.getvalue()


def codec_seeds() -> Seeds:
    names = h._codec().catalog.names
    for _, name, label, print_fp, body in _bodies():
        for mode in range(4):
            selector = (names.index(name) << 2) | mode
            yield f"{label}-m{mode}", bytes([selector]) + MAGIC + print_fp + body


def avro_reader_seeds() -> Seeds:
    for index, _, label, _, body in _bodies():
        yield label, bytes([index]) + body


# --- images --------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _gradient(width: int, height: int) -> Any:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 7 % 256, ys * 11 % 256, (xs + ys) * 5 % 256], axis=-1).astype(np.uint8)


def _images() -> Iterator[tuple[str, bytes]]:
    colour = _gradient(32, 24)
    gray = cv2.cvtColor(_gradient(16, 16), cv2.COLOR_BGR2GRAY)
    jpeg = bytes(cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    yield "jpeg-32x24", jpeg
    yield "jpeg-gray", bytes(cv2.imencode(".jpg", gray)[1].tobytes())
    progressive = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    yield "jpeg-progressive", bytes(cv2.imencode(".jpg", _gradient(24, 16), progressive)[1])
    yield "png-bgr", bytes(cv2.imencode(".png", _gradient(20, 10))[1].tobytes())
    bgra = np.dstack([_gradient(8, 8), np.full((8, 8), 128, np.uint8)])
    yield "png-bgra", bytes(cv2.imencode(".png", bgra)[1].tobytes())
    yield "png-gray", bytes(cv2.imencode(".png", gray)[1].tobytes())
    yield "png-gray16", bytes(cv2.imencode(".png", gray.astype(np.uint16) * 257)[1].tobytes())
    yield "jpeg-truncated", jpeg[: len(jpeg) // 2]
    # Pixel-limit bombs: a few bytes declaring billions of pixels.
    sof = jpeg.index(b"\xff\xc0")
    yield "jpeg-bomb", jpeg[: sof + 5] + struct.pack(">HH", 65500, 65500) + jpeg[sof + 9 :]
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    yield (
        "png-bomb",
        PNG_SIGNATURE
        + b"".join(
            [_png_chunk(b"IHDR", ihdr), _png_chunk(b"IDAT", idat), _png_chunk(b"IEND", b"")]
        ),
    )


def image_seeds() -> Seeds:
    # limit bits 0-1, declared bits 2-3, expected encoding bits 4-5 (see harnesses.image)
    modes = (0x00, 0x02, 0x06, 0x0A, 0x0E, 0x12, 0x22, 0x03)
    for label, data in _images():
        for mode in modes:
            yield f"{label}-m{mode:02x}", bytes([mode]) + data


# --- webhook and policy crypto -------------------------------------------------------------

_CONFIGS: dict[str, dict[str, Any]] = {
    "privacy": {"blur_strength": 0.9, "blur_mode": "pixelate", "solid_color": [0, 0, 255]},
    "resilience": {"failure_threshold": 3, "failure_rate_threshold": 0.5},
    "health": {"offline_after_s": 30.0, "online_after_frames": 2},
    "antitheft": {"zones": ["z1"], "confidence_threshold": 0.7},
    "retention": {"days": 7},
}


def _row(policy_type: str, version: int, **more: Any) -> dict[str, Any]:
    return {
        "id": "row-1",
        "service_name": "camguard",
        "policy_type": policy_type,
        "org_id": "acme",
        "camera_id": "cam-1",
        "site_id": None,
        "class_id": None,
        "version": version,
        "config": _CONFIGS[policy_type],
        "updated_at": "2024-05-01T12:00:00.123456+00:00",
        **more,
    }


def _payloads() -> Iterator[tuple[str, dict[str, Any]]]:
    base = {"table": "service_policies", "schema": "public"}
    for kind in _CONFIGS:
        yield f"insert-{kind}", {**base, "type": "INSERT", "record": _row(kind, 1)}
    moved = _row("privacy", 2, camera_id=None, updated_at=1_700_000_000_000)
    yield "update", {**base, "type": "UPDATE", "record": moved, "old_record": _row("privacy", 1)}
    yield "delete", {**base, "type": "DELETE", "record": None, "old_record": _row("health", 3)}


def webhook_seeds() -> Seeds:
    stamp = str(int(h.WEBHOOK_NOW))
    secret = h.WEBHOOK_SECRET.decode()
    for label, payload in _payloads():
        body = json.dumps(payload).encode()
        yield f"signed-{label}", b"\x00" + body
        signature = sign(h.WEBHOOK_SECRET, stamp, body)
        hmac_headers = f"X-Camguard-Timestamp: {stamp}\nX-Camguard-Signature: {signature}"
        yield f"headers-hmac-{label}", b"\x01" + hmac_headers.encode() + b"\n\n" + body
    body = json.dumps(dict(_payloads())["update"]).encode()
    yield "headers-secret", b"\x01X-Camguard-Webhook-Secret: " + secret.encode() + b"\n\n" + body
    yield "headers-bearer", b"\x01Authorization: Bearer " + secret.encode() + b"\n\n" + body


def policy_crypto_seeds() -> Seeds:
    rng = random.Random(14)
    for key_id in ("k1", "k0"):
        setting = next(p for p in h.POLICY_KEY_SETTING.split(",") if p.startswith(key_id))
        cipher = PolicyCipher.from_setting(setting, random_bytes=rng.randbytes)
        for kind, config in _CONFIGS.items():
            token = cipher.encrypt(json.dumps(config), h.POLICY_AAD)
            yield f"decrypt-{key_id}-{kind}", b"\x00" + token.encode()
    yield "setting-two-keys", b"\x01" + h.POLICY_KEY_SETTING.encode()
    yield "setting-one-key", b"\x01" + h.POLICY_KEY_SETTING.split(",")[1].encode()


# --- spool ---------------------------------------------------------------------------------


def _spool_folder(folder: Path, encrypted: bool, segment_bytes: int) -> list[bytes]:
    """Write records through the real SegmentStore, settle some; return ack log + segments."""
    cipher = h._spool_cipher() if encrypted else None
    store, _ = open_spool(folder, segment_bytes=segment_bytes, cipher=cipher)
    try:
        records = [
            NewRecord(
                RecordHeader(seq, seq % 3, 1_700_000_000_000 + seq, 1_700_000_060_000 + seq),
                None if seq % 4 == 0 else f"cam-{seq}".encode(),
                f"frame {seq} ".encode() * 3,
            )
            for seq in range(1, 7)
        ]
        locations = store.commit(records, [], sync=True)
        store.commit([], [locations[0], locations[3]], sync=True)
    finally:
        store.close()
    segments = sorted(folder.glob("*.seg"))
    return [(folder / ACK_LOG).read_bytes(), *(p.read_bytes() for p in segments)]


def _spool_inputs() -> Seeds:
    for encrypted in (False, True):
        for segment_bytes, label in ((1 << 20, "one"), (220, "rotated")):
            with tempfile.TemporaryDirectory() as tmp:
                ack, *segments = _spool_folder(Path(tmp) / "q", encrypted, segment_bytes)
            name = f"{'sealed' if encrypted else 'plain'}-{label}"
            flags = int(encrypted)
            first = segments[0]  # segment 1, as the harness numbers them
            yield f"{name}-segment", bytes([flags]) + first
            yield f"{name}-acked", bytes([flags | 2]) + struct.pack("<H", len(ack)) + ack + first
            if len(segments) > 1:
                two = struct.pack("<H", len(ack)) + ack + struct.pack("<H", len(first)) + first
                yield f"{name}-two-segments", bytes([flags | 6]) + two + segments[1]


def spool_seeds() -> Seeds:
    # as read by open_spool; with CRCs fixed up after mutation (bit 3); by a queue (bit 4)
    for label, data in _spool_inputs():
        yield label, data
        yield f"{label}-crcfix", bytes([data[0] | 8]) + data[1:]
        yield f"{label}-queue", bytes([data[0] | 16]) + data[1:]


# --- codegen -------------------------------------------------------------------------------


def avsc_seeds() -> Seeds:
    paths = [*h.schema_paths(), REPO / "tests" / "unit" / "codegen" / "every_type.avsc"]
    for path in paths:
        compact = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
        label = path.stem if path.parent.name == "avro" else f"{path.parent.name}-{path.stem}"
        yield label, compact.encode()


_DOWNGRADE_CASES: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "t",
        "version": "1",
        "summary": "s",
        "license": {"name": "x", "identifier": "MIT"},
    },
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "webhooks": {"w": {}},
    "paths": {
        "/a/{id}": {
            "parameters": [{"name": "id", "in": "path", "schema": {"type": ["string", "null"]}}],
            "post": {
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"X-N": {"schema": {"type": "integer", "exclusiveMinimum": 0}}},
                        "content": {
                            "application/octet-stream": {
                                "schema": {"contentMediaType": "image/jpeg"}
                            }
                        },
                    }
                },
                "callbacks": {"cb": {"{$request.body#/u}": {"post": {"responses": {}}}}},
            },
        }
    },
    "components": {
        "schemas": {
            "A": {
                "type": "object",
                "properties": {
                    "n": {"anyOf": [{"$ref": "#/components/schemas/E"}, {"type": "null"}]},
                    "c": {"const": "x", "examples": ["x"]},
                    "t": {
                        "prefixItems": [{"type": "integer"}, {"type": "string"}],
                        "type": "array",
                    },
                    "u": {"type": ["integer", "string"], "exclusiveMaximum": 9},
                    "b": {"contentEncoding": "base64", "type": "string"},
                    "z": {"type": "null"},
                    "m": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
                    "r": {"$ref": "#/components/schemas/E", "description": "d"},
                    "any": True,
                    "none": False,
                },
                "required": [],
                "$defs": {"x": {}},
            },
            "E": {"enum": ["a", "b"]},
        },
        "pathItems": {"p": {}},
        "parameters": {"q": {"name": "q", "in": "query", "schema": {"type": ["number", "null"]}}},
        "requestBodies": {"b": {"content": {"application/json": {"schema": {"type": "integer"}}}}},
        "responses": {
            "r": {"description": "r", "content": {"text/plain": {"schema": {"type": "string"}}}}
        },
        "headers": {"h": {"schema": {"type": "string"}}},
    },
}


def _split_document(label: str, document: dict[str, Any]) -> Seeds:
    """One seed per path (with the component schemas it names) plus the components alone."""
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    for index, (path, item) in enumerate(sorted(document.get("paths", {}).items())):
        text = json.dumps(item)
        used = {name: s for name, s in schemas.items() if f'/{name}"' in text}
        small = {**document, "paths": {path: item}, "components": {"schemas": used}}
        yield f"{label}-path{index:02d}", json.dumps(small, separators=(",", ":")).encode()
    rest = {**document, "paths": {}}
    yield f"{label}-components", json.dumps(rest, separators=(",", ":")).encode()


def openapi30_seeds() -> Seeds:
    yield "downgrade-cases", json.dumps(_DOWNGRADE_CASES, separators=(",", ":")).encode()
    worker = json.loads((REPO / "codegen" / "generated" / "http" / "openapi.json").read_text())
    yield from _split_document("worker", worker)
    yield from _split_document("fastapi", fusion_app().openapi())


SEEDS = {
    "codec": codec_seeds,
    "avro_reader": avro_reader_seeds,
    "image": image_seeds,
    "webhook": webhook_seeds,
    "policy_crypto": policy_crypto_seeds,
    "spool": spool_seeds,
    "avsc": avsc_seeds,
    "openapi30": openapi30_seeds,
}


def write(targets: list[str]) -> None:
    for target in targets:
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):  # crash-* inputs found by fuzzing stay
            old.unlink()
        count = size = 0
        for label, data in SEEDS[target]():
            (folder / f"seed-{label}").write_bytes(data)
            count, size = count + 1, size + len(data)
        print(f"{target}: {count} seeds, {size} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(SEEDS)} (default: all)")
    targets = parser.parse_args().targets or list(SEEDS)
    unknown = set(targets) - set(SEEDS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    write(targets)


if __name__ == "__main__":
    main()
