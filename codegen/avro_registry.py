"""The ``schemas.ts`` module: every writer schema the TypeScript runtime may meet, with its
CRC-64-AVRO fingerprint computed by the Python codec (streams/codec.py), so both sides agree
by construction; the runtime recomputes each fingerprint with avsc and refuses to start on a
mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from codegen.avro_schema import SchemaFile, short_name
from codegen.avro_ts import constant_name
from codegen.tsdoc import GENERATED_HEADER
from streams.codec import fingerprint


def fingerprint_hex(raw: Mapping[str, Any]) -> str:
    """The 8 fingerprint bytes as they follow ``C3 01`` on the wire, in hex."""
    return fingerprint(raw).hex()


def _entry(name: str, version: str, raw: Mapping[str, Any], indent: str) -> str:
    schema = json.dumps(raw, indent=2, ensure_ascii=False).replace("\n", "\n" + indent + "  ")
    return (
        f"{indent}{{\n"
        f"{indent}  name: {json.dumps(name)},\n"
        f"{indent}  version: {json.dumps(version)},\n"
        f"{indent}  fingerprint: {json.dumps(fingerprint_hex(raw))},\n"
        f"{indent}  schema: {schema},\n"
        f"{indent}}}"
    )


def render_registry(
    current: Sequence[SchemaFile], history: Mapping[str, Sequence[tuple[int, SchemaFile]]]
) -> str:
    """``schemas.ts`` for the current schemas and the kept versions."""
    files = sorted(current, key=lambda f: f.name)
    parts = [
        GENERATED_HEADER + "// Source: schemas/avro/*.avsc and schemas/avro/history/*/v*.avsc.",
        'import type { RecordName } from "./types";',
        "/** An Avro schema as JSON, handed to avsc's Type.forSchema. */\n"
        "export type AvroSchemaJson =\n"
        "  | string\n"
        "  | readonly AvroSchemaJson[]\n"
        "  | { readonly [key: string]: unknown };",
        "/** One writer schema: a current .avsc or a kept version of it. */\n"
        "export interface WriterSchema {\n"
        "  /** Top-level record name. */\n"
        "  readonly name: RecordName;\n"
        '  /** "current", or "v<N>" for schemas/avro/history/<name>/v<N>.avsc. */\n'
        "  readonly version: string;\n"
        "  /** CRC-64-AVRO of the parsing canonical form: the 8 little-endian bytes after C3 01,"
        " in hex. */\n"
        "  readonly fingerprint: string;\n"
        "  /** The schema as written in the .avsc file. */\n"
        "  readonly schema: AvroSchemaJson;\n"
        "}",
    ]
    for schema_file in files:
        name = short_name(schema_file.root)
        parts.append(
            f"/** Fingerprint of the current {name} schema (hex of the bytes after C3 01). */\n"
            f"export const {constant_name(name)}_FINGERPRINT = "
            f"{json.dumps(fingerprint_hex(schema_file.raw))};"
        )
    current_entries = ",\n".join(
        f"  {short_name(f.root)}: " + _entry(short_name(f.root), "current", f.raw, "  ").lstrip()
        for f in files
    )
    parts.append(
        "/** The current writer (and reader) schema of every record. */\n"
        "export const CURRENT_SCHEMAS: { readonly [N in RecordName]: WriterSchema } = {\n"
        f"{current_entries},\n}};"
    )
    kept = [
        _entry(name, f"v{version}", schema_file.raw, "  ")
        for name in sorted(history)
        for version, schema_file in history[name]
    ]
    body = "".join(f"{entry},\n" for entry in kept)
    parts.append(
        "/** Kept older versions (schemas/avro/history): decodable, resolved to the current. */\n"
        f"export const HISTORY_SCHEMAS: readonly WriterSchema[] = [\n{body}];"
    )
    return "\n\n".join(parts) + "\n"
