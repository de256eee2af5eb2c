"""Avro schemas in one normal form, shared by the TypeScript compiler and the evolution gate.

:func:`normalize` rewrites a schema so that every named type carries its full name (no
``namespace`` attribute left to resolve), every reference is a full name, and every named type's
definition is collected in a :class:`NamedTypes` table. Both consumers then walk plain dicts and
lists without tracking namespaces themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegen.exceptions import SchemaDefinitionError
from streams.codec import DEFAULT_SCHEMA_DIR, without_attribute

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})

SCHEMA_DIR = DEFAULT_SCHEMA_DIR
HISTORY_DIR = SCHEMA_DIR / "history"


def full_name(name: str, namespace: str | None) -> str:
    """The Avro full name of ``name`` seen inside ``namespace``."""
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def namespace_of(fullname: str) -> str | None:
    return fullname.rsplit(".", 1)[0] if "." in fullname else None


@dataclass
class NamedTypes:
    """Named types (records, enums, fixed) by full name, in their normal form."""

    by_name: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, schema: Any) -> Any:
        """Follow a name reference; any other schema is returned as it is."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            try:
                return self.by_name[schema]
            except KeyError:
                raise SchemaDefinitionError(f"unknown type name {schema!r}") from None
        return schema


def type_name(schema: Any) -> str:
    """The Avro type of a normal-form schema: a primitive, a kind, ``union`` or a full name."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    return str(schema["type"])


def normalize(schema: Any, names: NamedTypes, namespace: str | None = None) -> Any:
    """The normal form of ``schema``; named definitions are added to ``names``.

    A named type defined twice must be defined identically (docs aside), as when Box.avsc
    and AnonymizedFrame.avsc both spell out ``Box``.
    """
    if isinstance(schema, str):
        return schema if schema in PRIMITIVES else full_name(schema, namespace)
    if isinstance(schema, list):
        return [normalize(branch, names, namespace) for branch in schema]
    if not isinstance(schema, Mapping) or "type" not in schema:
        raise SchemaDefinitionError(f"not an Avro schema: {json.dumps(schema)[:120]}")
    kind = schema["type"]
    if not isinstance(kind, str):
        return normalize(kind, names, namespace)
    if kind in NAMED_KINDS:
        return _normalize_named(schema, names, namespace)
    out = {k: v for k, v in schema.items() if k != "namespace"}
    if kind == "array":
        out["items"] = normalize(schema["items"], names, namespace)
    elif kind == "map":
        out["values"] = normalize(schema["values"], names, namespace)
    elif kind not in PRIMITIVES:
        return full_name(kind, namespace)
    return out if len(out) > 1 else kind


def _normalize_named(schema: Mapping[str, Any], names: NamedTypes, namespace: str | None) -> str:
    own_ns = schema.get("namespace", namespace)
    fullname = full_name(str(schema["name"]), own_ns)
    inner_ns = namespace_of(fullname)
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "namespace"}
    out["name"] = fullname
    out["aliases"] = sorted(full_name(a, inner_ns) for a in schema.get("aliases", ()))
    if schema["type"] in ("record", "error"):
        out["fields"] = [
            {**f, "type": normalize(f["type"], names, inner_ns)} for f in schema["fields"]
        ]
    previous = names.by_name.get(fullname)
    if previous is not None and without_docs(previous) != without_docs(out):
        raise SchemaDefinitionError(f"type {fullname} is defined twice, differently")
    names.by_name.setdefault(fullname, out)
    return fullname


def without_docs(value: Any) -> Any:
    """``value`` with every ``doc`` attribute dropped (docs never affect compatibility)."""
    return without_attribute(value, "doc")


def merge_names(tables: Iterable[NamedTypes]) -> NamedTypes:
    """One table of every named type; a name defined differently in two tables is an error."""
    merged = NamedTypes()
    for table in tables:
        for fullname, definition in table.by_name.items():
            known = merged.by_name.setdefault(fullname, definition)
            if without_docs(known) != without_docs(definition):
                raise SchemaDefinitionError(f"type {fullname} is defined differently in two files")
    return merged


@dataclass(frozen=True)
class SchemaFile:
    """One top-level .avsc: its file stem, raw JSON, and normal form."""

    name: str
    raw: Mapping[str, Any]
    root: Any
    names: NamedTypes

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any]) -> SchemaFile:
        names = NamedTypes()
        root = normalize(raw, names)
        return cls(name, raw, root, names)

    @classmethod
    def load(cls, path: Path) -> SchemaFile:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SchemaDefinitionError(f"{path.name}: invalid JSON ({exc})") from exc
        return cls.parse(path.stem, raw)


def load_current(schema_dir: Path = SCHEMA_DIR) -> list[SchemaFile]:
    """Every ``schemas/avro/*.avsc``, sorted by name."""
    return [SchemaFile.load(p) for p in sorted(schema_dir.glob("*.avsc"))]


def load_history(history_dir: Path = HISTORY_DIR) -> dict[str, list[tuple[int, SchemaFile]]]:
    """Kept versions ``history/<Name>/v<N>.avsc`` by schema name, oldest first."""
    kept: dict[str, list[tuple[int, SchemaFile]]] = {}
    for path in sorted(history_dir.glob("*/v*.avsc")):
        stem = path.stem[1:]
        if not stem.isdigit():
            raise SchemaDefinitionError(f"{path.parent.name}/{path.name}: expected v<N>.avsc")
        kept.setdefault(path.parent.name, []).append(
            (int(stem), SchemaFile.parse(path.parent.name, json.loads(path.read_text("utf-8"))))
        )
    return {name: sorted(versions, key=lambda v: v[0]) for name, versions in kept.items()}
