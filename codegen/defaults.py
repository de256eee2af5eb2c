"""Whether a field's JSON default is a valid value of the field's type (Avro specification).

A union's default must be a value of its *first* branch: readers such as avsc apply exactly
that rule, so ``["string", "null"]`` with ``"default": null`` breaks them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from codegen.avro_schema import NamedTypes, type_name

_INT_RANGES = {"int": 2**31, "long": 2**63}


def default_problem(schema: Any, value: Any, names: NamedTypes) -> str | None:
    """None when ``value`` is a valid JSON default for ``schema``, else what is wrong."""
    if isinstance(schema, list):
        problem = default_problem(schema[0], value, names) if schema else "empty union"
        if problem:
            return f"{_show(value)} is not a value of the union's first branch ({problem})"
        return None
    resolved = names.resolve(schema)
    kind = type_name(resolved)
    if kind in ("record", "error"):
        return _record_problem(resolved, value, names)
    if kind == "array":
        if not isinstance(value, list):
            return f"{_show(value)} is not an array"
        return next((p for v in value if (p := default_problem(resolved["items"], v, names))), None)
    if kind == "map":
        if not isinstance(value, dict):
            return f"{_show(value)} is not a map"
        return next(
            (p for v in value.values() if (p := default_problem(resolved["values"], v, names))),
            None,
        )
    return _scalar_problem(kind, resolved, value)


def _scalar_problem(kind: str, schema: Any, value: Any) -> str | None:
    ok: bool
    if kind == "null":
        ok = value is None
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in _INT_RANGES:
        bound = _INT_RANGES[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    elif kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "bytes":
        ok = isinstance(value, str) and all(ord(c) < 256 for c in value)
    elif kind == "fixed":
        ok = isinstance(value, str) and len(value) == schema["size"]
    elif kind == "enum":
        if value not in schema["symbols"]:
            return f"{_show(value)} is not a symbol of {schema['name']}"
        return None
    else:
        return f"unknown type {kind}"
    return None if ok else f"{_show(value)} is not a valid {kind}"


def _record_problem(record: Mapping[str, Any], value: Any, names: NamedTypes) -> str | None:
    if not isinstance(value, dict):
        return f"{_show(value)} is not a record"
    for fld in record["fields"]:
        if fld["name"] in value:
            problem = default_problem(fld["type"], value[fld["name"]], names)
        elif "default" in fld:
            problem = None
        else:
            problem = f"field {fld['name']} missing"
        if problem:
            return problem
    return None


def _show(value: Any) -> str:
    return json.dumps(value)[:60]
