"""Avro binary readers compiled from a schema to Python source (no logical types).

fastavro's ``schemaless_reader`` spends most of its ~3.5 us per small record on per-call set-up
and per-field dispatch through a file object. A reader generated for one schema reads the
bytes in place with straight-line code: a ``CameraEvent`` in ~2 us. The events agent decodes
every message it folds, so this is its largest single cost.

    read = compile_reader(schema_json)          # the writer schema, as parsed JSON
    try:
        record, end = read(data, HEADER_SIZE)   # body starts after the single-object header
    except READ_ERRORS:
        ...                                     # malformed bytes

Values are what fastavro returns with logical types left alone (``timestamp-millis`` is an
int); the unit tests hold every schema in schemas/avro to that, on hypothesis-made records.
Malformed input raises one of :data:`READ_ERRORS` (our :class:`AvroReadError` for a length
past the end, a negative length, an unknown union branch or enum symbol; what the bytes
provoke otherwise: IndexError, struct.error, UnicodeDecodeError), never a partial record. Schema
resolution (reading old versions as the current one) stays with fastavro.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

Reader = Callable[[bytes, int], tuple[Any, int]]

_U64 = (1 << 64) - 1
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class AvroReadError(ValueError):
    """The bytes are not a valid encoding of the schema."""


def _read_long(b: bytes, p: int) -> tuple[int, int]:
    """A zig-zag varint at ``p``: (value, next position)."""
    n = b[p]
    p += 1
    if n < 0x80:
        return (n >> 1) ^ -(n & 1), p
    result, shift = n & 0x7F, 7
    while True:
        n = b[p]
        p += 1
        result |= (n & 0x7F) << shift
        if n < 0x80:
            if shift == 63:  # a 10th byte: bits past 64 are dropped, as fastavro and Java do
                result &= _U64
            return (result >> 1) ^ -(result & 1), p
        shift += 7
        if shift > 63:
            raise AvroReadError("varint longer than 10 bytes")


def _fail(message: str) -> Any:
    raise AvroReadError(message)


_RUNTIME: dict[str, Any] = {
    "_long": _read_long,
    "_fail": _fail,
    "_f32": struct.Struct("<f").unpack_from,
    "_f64": struct.Struct("<d").unpack_from,
}


class _Compiler:
    """Generates one Python function per named record, plus the entry point."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.names: dict[str, str] = {}  # full name -> function name (records)
        self.types: dict[str, Any] = {}  # full name -> schema (enums, fixed, records)
        self.constants: dict[str, Any] = {}
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("_c")
        self.constants[name] = value
        return name

    def full_name(self, schema: dict[str, Any], namespace: str | None) -> tuple[str, str | None]:
        name = str(schema["name"])
        if "." in name:
            return name, name.rsplit(".", 1)[0]
        space = schema.get("namespace", namespace)
        return (f"{space}.{name}" if space else name), space

    def lookup(self, name: str, namespace: str | None) -> str:
        if name in self.types:
            return name
        qualified = f"{namespace}.{name}" if namespace else name
        if qualified in self.types:
            return qualified
        raise ValueError(f"unknown named type {name!r}")

    def emit(self, schema: Any, target: str, lines: list[str], indent: str, ns: str | None) -> None:
        """Append lines that read ``schema`` at ``p`` into variable ``target``."""
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                self.primitive(schema, target, lines, indent)
                return
            named = self.types[self.lookup(schema, ns)]
            self.emit(named, target, lines, indent, ns)
            return
        if isinstance(schema, list):
            self.union(schema, target, lines, indent, ns)
            return
        kind = schema["type"]
        if kind in PRIMITIVES:
            self.primitive(kind, target, lines, indent)
        elif kind == "record" or kind == "error":
            full, _ = self.full_name(schema, ns)
            function = self.names.get(full) or self.record(schema, ns)
            lines.append(f"{indent}{target}, p = {function}(b, p)")
        elif kind == "enum":
            full, _ = self.full_name(schema, ns)
            self.types.setdefault(full, schema)
            symbols = self.constant(tuple(schema["symbols"]))
            index = self.fresh("i")
            self.long(index, lines, indent)
            lines.append(f"{indent}if not 0 <= {index} < {len(schema['symbols'])}:")
            lines.append(f"{indent}    _fail(f'enum index {{{index}}} out of range')")
            lines.append(f"{indent}{target} = {symbols}[{index}]")
        elif kind == "fixed":
            full, _ = self.full_name(schema, ns)
            self.types.setdefault(full, schema)
            size = int(schema["size"])
            lines.append(f"{indent}if p + {size} > len(b):")
            lines.append(f"{indent}    _fail('fixed runs past the end')")
            lines.append(f"{indent}{target} = bytes(b[p:p + {size}])")
            lines.append(f"{indent}p += {size}")
        elif kind == "array":
            self.blocks(schema["items"], None, target, lines, indent, ns)
        elif kind == "map":
            self.blocks(schema["values"], "string", target, lines, indent, ns)
        else:
            raise ValueError(f"unsupported Avro type {kind!r}")

    def primitive(self, kind: str, target: str, lines: list[str], indent: str) -> None:
        if kind == "null":
            lines.append(f"{indent}{target} = None")
        elif kind == "boolean":
            lines.append(f"{indent}{target} = b[p] != 0")  # as fastavro reads it
            lines.append(f"{indent}p += 1")
        elif kind in ("int", "long"):
            self.long(target, lines, indent)
        elif kind == "float":
            lines.append(f"{indent}{target} = _f32(b, p)[0]")
            lines.append(f"{indent}p += 4")
        elif kind == "double":
            lines.append(f"{indent}{target} = _f64(b, p)[0]")
            lines.append(f"{indent}p += 8")
        else:  # bytes, string
            size, end = self.fresh("z"), self.fresh("e")
            self.long(size, lines, indent)
            lines.append(f"{indent}{end} = p + {size}")
            lines.append(f"{indent}if {size} < 0 or {end} > len(b):")
            lines.append(f"{indent}    _fail(f'length {{{size}}} runs past the end')")
            value = f"b[p:{end}].decode()" if kind == "string" else f"bytes(b[p:{end}])"
            lines.append(f"{indent}{target} = {value}")
            lines.append(f"{indent}p = {end}")

    def long(self, target: str, lines: list[str], indent: str) -> None:
        """A zig-zag varint into ``target``: one byte inline, longer ones through _long."""
        lines.append(f"{indent}{target} = b[p]")
        lines.append(f"{indent}if {target} < 0x80:")
        lines.append(f"{indent}    {target} = ({target} >> 1) ^ -({target} & 1)")
        lines.append(f"{indent}    p += 1")
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    {target}, p = _long(b, p)")

    def union(
        self, branches: list[Any], target: str, lines: list[str], indent: str, ns: str | None
    ) -> None:
        index = self.fresh("u")
        self.long(index, lines, indent)
        for position, branch in enumerate(branches):
            keyword = "if" if position == 0 else "elif"
            lines.append(f"{indent}{keyword} {index} == {position}:")
            self.emit(branch, target, lines, indent + "    ", ns)
        lines.append(f"{indent}else:")
        lines.append(f"{indent}    _fail(f'union index {{{index}}} out of range')")

    def blocks(
        self, item: Any, key: str | None, target: str, lines: list[str], indent: str, ns: str | None
    ) -> None:
        count, value = self.fresh("n"), self.fresh("v")
        lines.append(f"{indent}{target} = {{}}" if key else f"{indent}{target} = []")
        lines.append(f"{indent}while True:")
        inner = indent + "    "
        self.long(count, lines, inner)
        lines.append(f"{inner}if {count} == 0:")
        lines.append(f"{inner}    break")
        lines.append(f"{inner}if {count} < 0:")
        lines.append(f"{inner}    {count} = -{count}")
        lines.append(f"{inner}    _, p = _long(b, p)")
        lines.append(f"{inner}for _ in range({count}):")
        body = inner + "    "
        if key:
            name = self.fresh("k")
            self.primitive("string", name, lines, body)
            self.emit(item, value, lines, body, ns)
            lines.append(f"{body}{target}[{name}] = {value}")
        else:
            self.emit(item, value, lines, body, ns)
            lines.append(f"{body}{target}.append({value})")

    def record(self, schema: dict[str, Any], namespace: str | None) -> str:
        full, space = self.full_name(schema, namespace)
        function = self.fresh("_record")
        self.names[full] = function
        self.types[full] = schema
        lines = [f"def {function}(b, p):"]
        fields = []
        for field in schema["fields"]:
            variable = self.fresh("f")
            self.emit(field["type"], variable, lines, "    ", space)
            fields.append(f"{field['name']!r}: {variable}")
        lines.append(f"    return {{{', '.join(fields)}}}, p")
        self.functions.append("\n".join(lines))
        return function


READ_ERRORS = (AvroReadError, IndexError, struct.error, UnicodeDecodeError)
"""What a compiled reader raises on malformed bytes."""


def compile_reader(schema: dict[str, Any]) -> Reader:
    """A reader of records of ``schema`` (JSON, as in an .avsc file).

    For speed it raises whatever the bytes provoke (:data:`READ_ERRORS`).
    """
    if schema.get("type") != "record":
        raise ValueError("compile_reader takes a record schema")
    compiler = _Compiler()
    entry = compiler.record(schema, None)
    source = "\n\n".join(compiler.functions)
    scope: dict[str, Any] = {**_RUNTIME, **compiler.constants}
    exec(compile(source, f"<avro reader {schema.get('name')}>", "exec"), scope)  # noqa: S102
    reader: Reader = scope[entry]
    return reader
