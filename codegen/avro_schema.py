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
MAX_DEPTH = 64
"""Deepest nesting of types read: deeper is refused, not a RecursionError in a consumer."""

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


def normalize(schema: Any, names: NamedTypes, namespace: str | None = None, depth: int = 0) -> Any:
    """The normal form of ``schema``; named definitions are added to ``names``.

    A named type defined twice must be defined identically (docs aside), as when Box.avsc
    and AnonymizedFrame.avsc both spell out ``Box``. Anything that is no Avro schema (a
    missing or ill-typed attribute, nesting past :data:`MAX_DEPTH`) is a SchemaDefinitionError.
    """
    if depth > MAX_DEPTH:
        raise SchemaDefinitionError(f"types nested more than {MAX_DEPTH} levels deep")
    if isinstance(schema, str):
        return schema if schema in PRIMITIVES else _reference(full_name(schema, namespace))
    if isinstance(schema, list):
        return [normalize(branch, names, namespace, depth + 1) for branch in schema]
    if not isinstance(schema, Mapping) or "type" not in schema:
        raise SchemaDefinitionError(f"not an Avro schema: {_excerpt(schema)}")
    kind = schema["type"]
    if not isinstance(kind, str):
        return normalize(kind, names, namespace, depth + 1)
    if kind in NAMED_KINDS:
        return _normalize_named(schema, names, namespace, depth)
    out = {k: v for k, v in schema.items() if k != "namespace"}
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        if key not in schema:
            raise SchemaDefinitionError(f"{kind} without {key!r}: {_excerpt(schema)}")
        out[key] = normalize(schema[key], names, namespace, depth + 1)
    elif kind not in PRIMITIVES:
        return full_name(kind, namespace)
    return out if len(out) > 1 else kind


def _reference(fullname: str) -> str:
    """A type name; ``array`` and ``map`` are not names but types that need their attribute."""
    if fullname in ("array", "map"):
        raise SchemaDefinitionError(
            f"{fullname!r} is no type name: write {{type: {fullname}, ...}}"
        )
    return fullname


def _excerpt(value: Any) -> str:
    return repr(value)[:120]


def _check_named(schema: Mapping[str, Any]) -> None:
    """The attributes the Avro specification requires of a named type, with their types."""
    kind, name = schema["type"], schema.get("name")

    def wrong(attribute: str, expected: str) -> SchemaDefinitionError:
        return SchemaDefinitionError(f"{kind} {name!r}: {attribute!r} must be {expected}")

    if not isinstance(name, str) or not name:
        raise wrong("name", "a non-empty string")
    if not isinstance(schema.get("namespace", ""), str | None):
        raise wrong("namespace", "a string")
    aliases = schema.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise wrong("aliases", "a list of strings")
    if kind in ("record", "error"):
        fields = schema.get("fields")
        if not isinstance(fields, list) or not all(
            isinstance(f, Mapping) and isinstance(f.get("name"), str) and "type" in f
            for f in fields
        ):
            raise wrong("fields", "a list of objects with a string 'name' and a 'type'")
    elif kind == "enum":
        symbols = schema.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise wrong("symbols", "a list of strings")
    elif not isinstance(schema.get("size"), int) or isinstance(schema["size"], bool):
        raise wrong("size", "an integer")  # fixed


def _normalize_named(
    schema: Mapping[str, Any], names: NamedTypes, namespace: str | None, depth: int
) -> str:
    _check_named(schema)
    own_ns = schema.get("namespace", namespace)
    fullname = _reference(full_name(str(schema["name"]), own_ns))
    inner_ns = namespace_of(fullname)
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "namespace"}
    out["name"] = fullname
    out["aliases"] = sorted(full_name(a, inner_ns) for a in schema.get("aliases", ()))
    if schema["type"] in ("record", "error"):
        out["fields"] = [
            {**f, "type": normalize(f["type"], names, inner_ns, depth + 1)}
            for f in schema["fields"]
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
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SchemaDefinitionError(f"{path.name}: invalid JSON ({exc})") from exc
        except RecursionError:
            raise SchemaDefinitionError(f"{path.name}: JSON nested too deeply") from None
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
