"""Avro schemas compiled to TypeScript types for the ``avsc`` runtime (codegen/runtime/avro.ts).

The mapping follows what avsc decodes with ``wrapUnions: false`` and no logical-type classes:

================================  =======================================================
Avro                              TypeScript
================================  =======================================================
null / boolean / string           ``null`` / ``boolean`` / ``string``
int, long, float, double          ``number`` (avsc refuses longs beyond +-2^53 on decode)
bytes, fixed                      ``Buffer`` (a named fixed becomes ``type Name = Buffer``)
enum                              union of string literals, plus ``NameSymbols`` constant
array / map                       ``T[]`` / ``Record<string, T>``
["null", T]                       ``T | null``
other unions                      plain ``A | B`` (unwrapped); a union avsc cannot tell
                                  apart without wrapping (two numbers, two records, string
                                  and enum, ...) is rejected at compile time
record                            ``interface Name`` (as decoded: every field present) and
                                  ``interface NameInput`` (for encoding: fields with a
                                  default may be omitted; avsc writes the default)
timestamp-millis/micros, date,    ``number`` of the underlying int/long (epoch ms / us /
time-millis/micros                days since epoch / ms or us after midnight), noted in TSDoc
uuid                              ``string``
decimal (bytes or fixed)          ``Buffer``: big-endian two's-complement unscaled value;
                                  precision and scale are given in the TSDoc
================================  =======================================================

Output is deterministic: named types sorted by name, no timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from codegen.avro_schema import SchemaFile, merge_names, short_name, type_name
from codegen.exceptions import SchemaDefinitionError
from codegen.tsdoc import GENERATED_HEADER, tsdoc

_PRIMITIVE_TS = {
    "null": "null",
    "boolean": "boolean",
    "int": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "bytes": "Buffer",
    "string": "string",
}

# avsc tells unwrapped union branches apart by these JavaScript "buckets" (lib/types.js).
_BUCKETS = {
    "int": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "bytes": "buffer",
    "fixed": "buffer",
    "string": "string",
    "enum": "string",
    "map": "object",
    "record": "object",
    "error": "object",
}

_LOGICAL_NOTES = {
    "timestamp-millis": "Avro `timestamp-millis`: milliseconds since the Unix epoch, UTC.",
    "timestamp-micros": "Avro `timestamp-micros`: microseconds since the Unix epoch, UTC.",
    "local-timestamp-millis": "Avro `local-timestamp-millis`: local wall-clock milliseconds.",
    "local-timestamp-micros": "Avro `local-timestamp-micros`: local wall-clock microseconds.",
    "date": "Avro `date`: days since 1970-01-01.",
    "time-millis": "Avro `time-millis`: milliseconds after midnight.",
    "time-micros": "Avro `time-micros`: microseconds after midnight.",
    "uuid": "Avro `uuid`: RFC 4122 text form.",
    "duration": "Avro `duration`: 12 bytes, little-endian months, days, milliseconds.",
}

# Names a generated declaration may not take: they would shadow what the output itself uses.
_RESERVED = frozenset({"Array", "Buffer", "Record", "RecordTypes", "RecordInputs", "RecordName"})


def ts_identifier(fullname: str) -> str:
    name = short_name(fullname)
    if name in _RESERVED:
        raise SchemaDefinitionError(f"type {fullname}: {name} is reserved in generated code")
    return name


def constant_name(name: str) -> str:
    """``BreakerState`` -> ``BREAKER_STATE``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def logical_note(schema: Any) -> str | None:
    if not isinstance(schema, Mapping) or "logicalType" not in schema:
        return None
    logical = str(schema["logicalType"])
    if logical == "decimal":
        return (
            f"Avro `decimal` (precision {schema.get('precision')}, scale "
            f"{schema.get('scale', 0)}): big-endian two's-complement unscaled integer."
        )
    return _LOGICAL_NOTES.get(logical)


class TypeScriptCompiler:
    """Renders the named types of a set of schemas as one TypeScript module."""

    def __init__(self, files: Sequence[SchemaFile]) -> None:
        self.files = sorted(files, key=lambda f: f.name)
        self.names = merge_names(f.names for f in self.files)
        for file in self.files:  # each is a RecordTypes entry
            root = self.names.by_name.get(file.root) if isinstance(file.root, str) else None
            if root is None or root["type"] not in ("record", "error"):
                raise SchemaDefinitionError(f"{file.name}: the top-level type must be a record")
        seen: dict[str, str] = {}
        for fullname in self.names.by_name:
            ident = ts_identifier(fullname)
            if seen.setdefault(ident, fullname) != fullname:
                raise SchemaDefinitionError(f"{fullname} and {seen[ident]} share a short name")

    def render(self) -> str:
        blocks = [GENERATED_HEADER + "// Source: schemas/avro/*.avsc. Mapping: codegen/avro_ts.py."]
        for fullname in sorted(self.names.by_name, key=short_name):
            blocks.append(self._declaration(self.names.by_name[fullname]))
        blocks.append(self._registry())
        return "\n\n".join(blocks) + "\n"

    def ts_type(self, schema: Any, writer: bool, where: str) -> str:
        """The TypeScript type of a normal-form schema; ``where`` names it in errors."""
        if isinstance(schema, list):
            return self._union(schema, writer, where)
        kind = type_name(schema)
        if kind in _PRIMITIVE_TS:
            return _PRIMITIVE_TS[kind]
        if kind == "array":
            items = self.ts_type(schema["items"], writer, f"{where}[]")
            return f"{items}[]" if re.fullmatch(r"\w+", items) else f"Array<{items}>"
        if kind == "map":
            return f"Record<string, {self.ts_type(schema['values'], writer, f'{where}{{}}')}>"
        named = self.names.resolve(kind)
        ident = ts_identifier(named["name"])
        return f"{ident}Input" if writer and named["type"] in ("record", "error") else ident

    def _union(self, branches: list[Any], writer: bool, where: str) -> str:
        buckets: dict[str, Any] = {}
        for branch in branches:
            if isinstance(branch, list):
                raise SchemaDefinitionError(f"{where}: a union may not contain a union")
            resolved = self.names.resolve(branch)
            kind = type_name(resolved)
            bucket = _BUCKETS.get(kind, kind)
            if bucket in buckets:
                raise SchemaDefinitionError(
                    f"{where}: union branches {type_name(buckets[bucket])} and {type_name(branch)}"
                    f" are both a JavaScript {bucket}; avsc cannot decode them unwrapped"
                )
            buckets[bucket] = branch
        parts = [self.ts_type(b, writer, where) for b in branches if b != "null"]
        return " | ".join(parts + (["null"] if "null" in branches else []))

    def _declaration(self, named: Mapping[str, Any]) -> str:
        ident = ts_identifier(named["name"])
        kind = named["type"]
        doc = named.get("doc")
        if kind == "enum":
            symbols = " | ".join(json.dumps(s) for s in named["symbols"])
            remarks = [f"Avro enum `{named['name']}`."]
            if "default" in named:
                remarks.append(f"Readers map unknown symbols to {json.dumps(named['default'])}.")
            listed = ", ".join(json.dumps(s) for s in named["symbols"])
            return (
                f"{tsdoc(doc, remarks)}export type {ident} = {symbols};\n\n"
                f"/** Every symbol of {ident}, in schema order. */\n"
                f"export const {ident}Symbols: readonly {ident}[] = [{listed}];"
            )
        if kind == "fixed":
            notes = [f"Avro fixed `{named['name']}`, {named['size']} bytes."]
            notes += [n for n in [logical_note(named)] if n]
            return f"{tsdoc(doc, notes)}export type {ident} = Buffer;"
        reader = self._interface(named, ident, writer=False)
        writer = self._interface(named, f"{ident}Input", writer=True)
        return f"{reader}\n\n{writer}"

    def _interface(self, record: Mapping[str, Any], ident: str, writer: bool) -> str:
        if writer:
            head = [
                f"Writer-side {short_name(record['name'])}: fields with a default may be "
                "omitted and are written with their default."
            ]
        else:
            head = [f"Avro record `{record['name']}` as decoded."]
        lines = [tsdoc(record.get("doc"), head) + f"export interface {ident} {{"]
        for fld in record["fields"]:
            where = f"{short_name(record['name'])}.{fld['name']}"
            notes = [n for n in _logical_notes(fld["type"]) if n]
            if "default" in fld:
                notes.append(f"@defaultValue {json.dumps(fld['default'])}")
            optional = "?" if writer and "default" in fld else ""
            ts = self.ts_type(fld["type"], writer, where)
            lines.append(
                tsdoc(fld.get("doc"), notes, indent="  ") + f"  {fld['name']}{optional}: {ts};"
            )
        lines.append("}")
        return "\n".join(lines)

    def _registry(self) -> str:
        top = [short_name(f.root) for f in self.files]
        readers = "\n".join(f"  {n}: {n};" for n in top)
        writers = "\n".join(f"  {n}: {n}Input;" for n in top)
        return (
            "/** Every top-level record (one .avsc file each), as decoded. */\n"
            f"export interface RecordTypes {{\n{readers}\n}}\n\n"
            "/** Every top-level record, as accepted for encoding. */\n"
            f"export interface RecordInputs {{\n{writers}\n}}\n\n"
            "/** Name of a top-level record. */\n"
            "export type RecordName = keyof RecordTypes;"
        )


def _logical_notes(schema: Any) -> Iterable[str | None]:
    if isinstance(schema, list):
        for branch in schema:
            yield from _logical_notes(branch)
    elif isinstance(schema, Mapping):
        yield logical_note(schema)
        for key in ("items", "values"):
            if key in schema:
                yield from _logical_notes(schema[key])


def compile_types(files: Sequence[SchemaFile]) -> str:
    """The ``types.ts`` module for ``files``."""
    return TypeScriptCompiler(files).render()
