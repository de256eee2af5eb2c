"""The schema-evolution gate: FULL_TRANSITIVE compatibility with every kept version.

For each ``schemas/avro/<Name>.avsc`` and every kept ``schemas/avro/history/<Name>/v<N>.avsc``
both directions must resolve under the Avro specification's schema-resolution rules:

- backward: the new schema reads data written with version N;
- forward: version N reads data written with the new schema.

:func:`can_read` implements the resolution rules (records by name or alias, fields matched by
name or alias, a reader field missing from the writer needs a default, promotions int -> long
-> float -> double and string <-> bytes, enum symbols unknown to the reader need the reader's
enum default, fixed sizes, unions branch by branch). One rule beyond the specification: a
changed ``logicalType`` is refused, because the bytes would still decode but mean something else.
Each problem names the field path and the rule broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codegen.avro_schema import NamedTypes, SchemaFile, short_name, type_name
from codegen.defaults import default_problem

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED = ("record", "error", "enum", "fixed")


@dataclass
class _Resolution:
    reader_names: NamedTypes
    writer_names: NamedTypes
    problems: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def fail(self, path: str, rule: str) -> None:
        self.problems.append(f"{path}: {rule}")

    def check(self, reader: Any, writer: Any, path: str) -> None:
        if isinstance(writer, list):
            for branch in writer:
                if not isinstance(reader, list):
                    self.check(reader, branch, path)
                elif self._pick_branch(reader, branch) is None:
                    self.fail(
                        path, f"union: no reader branch accepts writer branch {_show(branch)}"
                    )
            return
        if isinstance(reader, list):
            chosen = self._pick_branch(reader, writer)
            if chosen is None:
                self.fail(path, f"union: no reader branch accepts writer type {_show(writer)}")
            else:
                self.check(chosen, writer, path)
            return
        self._check_logical(reader, writer, path)
        r = self.reader_names.resolve(reader)
        w = self.writer_names.resolve(writer)
        r_kind, w_kind = type_name(r), type_name(w)
        if r_kind in _NAMED or w_kind in _NAMED:
            self._check_named(r, w, path)
        elif r_kind == w_kind == "array":
            self.check(r["items"], w["items"], f"{path}[]")
        elif r_kind == w_kind == "map":
            self.check(r["values"], w["values"], f"{path}{{}}")
        elif r_kind != w_kind and r_kind not in _PROMOTIONS.get(w_kind, ()):
            self.fail(path, f"type changed {w_kind} -> {r_kind} (no Avro promotion)")

    def _pick_branch(self, union: list[Any], writer: Any) -> Any | None:
        """The first reader branch the writer type resolves to cleanly, as Avro picks it."""
        for branch in union:
            trial = _Resolution(self.reader_names, self.writer_names, seen=set(self.seen))
            trial.check(branch, writer, "")
            if not trial.problems:
                return branch
        return None

    def _check_logical(self, reader: Any, writer: Any, path: str) -> None:
        r_logical = reader.get("logicalType") if isinstance(reader, Mapping) else None
        w_logical = writer.get("logicalType") if isinstance(writer, Mapping) else None
        if r_logical != w_logical:
            self.fail(
                path,
                f"logical type changed {w_logical} -> {r_logical} (same bytes, different meaning)",
            )

    def _check_named(self, reader: Any, writer: Any, path: str) -> None:
        r_kind, w_kind = type_name(reader), type_name(writer)
        if {r_kind, w_kind} - {"record", "error"} and r_kind != w_kind:
            self.fail(path, f"type changed {w_kind} -> {r_kind}")
            return
        r_name, w_name = reader["name"], writer["name"]
        aliases = {short_name(a) for a in reader.get("aliases", ())}
        if short_name(r_name) != short_name(w_name) and short_name(w_name) not in aliases:
            self.fail(path, f"named type {w_name} renamed to {r_name} without an alias")
            return
        if (r_name, w_name) in self.seen:
            return  # a recursive type already being checked
        self.seen.add((r_name, w_name))
        if r_kind == "enum":
            self._check_enum(reader, writer, path)
        elif r_kind == "fixed" and reader["size"] != writer["size"]:
            self.fail(path, f"fixed {r_name} size changed {writer['size']} -> {reader['size']}")
        elif r_kind in ("record", "error"):
            self._check_record(reader, writer, path)

    def _check_enum(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str) -> None:
        unknown = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if unknown and "default" not in reader:
            self.fail(
                path,
                f"enum {short_name(reader['name'])}: symbols {unknown} unknown to the reader "
                "and the reader's enum has no default",
            )

    def _check_record(
        self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str
    ) -> None:
        by_name = {f["name"]: f for f in writer["fields"]}
        for r_field in reader["fields"]:
            names = [r_field["name"], *r_field.get("aliases", ())]
            w_field = next((by_name[n] for n in names if n in by_name), None)
            where = f"{path}.{r_field['name']}" if path else r_field["name"]
            if w_field is not None:
                self.check(r_field["type"], w_field["type"], where)
            elif "default" not in r_field:
                self.fail(where, "field missing from the writer and the reader has no default")
            else:
                bad = default_problem(r_field["type"], r_field["default"], self.reader_names)
                if bad:
                    self.fail(where, f"default {bad}")


def can_read(reader: SchemaFile, writer: SchemaFile) -> list[str]:
    """Problems that stop ``reader`` from reading data written with ``writer`` (none: it can)."""
    resolution = _Resolution(reader.names, writer.names)
    resolution.check(reader.root, writer.root, short_name(str(reader.root)))
    return resolution.problems


def _show(schema: Any) -> str:
    return type_name(schema) if not isinstance(schema, str) else schema


def full_transitive_problems(
    current: SchemaFile, kept: Sequence[tuple[int, SchemaFile]]
) -> list[str]:
    """Every FULL_TRANSITIVE violation of ``current`` against each kept version."""
    problems: list[str] = []
    for version, old in kept:
        for problem in can_read(current, old):
            problems.append(f"{current.name} (new) cannot read v{version} data: {problem}")
        for problem in can_read(old, current):
            problems.append(f"{current.name} v{version} readers cannot read new data: {problem}")
    return problems


def check_evolution(
    current: Sequence[SchemaFile], history: Mapping[str, Sequence[tuple[int, SchemaFile]]]
) -> list[str]:
    """Problems over every current schema; kept schemas with no current file are problems too."""
    problems: list[str] = []
    names = {f.name for f in current}
    for schema_file in current:
        problems += full_transitive_problems(schema_file, history.get(schema_file.name, ()))
        for problem in _default_problems(schema_file):
            problems.append(f"{schema_file.name}: {problem}")
    for gone in sorted(set(history) - names):
        problems.append(f"{gone}: schema removed but versions are kept (readers still exist)")
    return problems


def _default_problems(schema_file: SchemaFile) -> list[str]:
    problems: list[str] = []
    for named in schema_file.names.by_name.values():
        for fld in named.get("fields", ()):
            if "default" in fld:
                bad = default_problem(fld["type"], fld["default"], schema_file.names)
                if bad:
                    problems.append(f"{short_name(named['name'])}.{fld['name']}: default {bad}")
    return problems
