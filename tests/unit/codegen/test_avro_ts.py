"""The Avro -> TypeScript compiler over a schema that uses every Avro type."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from codegen.avro_registry import render_registry
from codegen.avro_schema import SchemaFile, load_current
from codegen.avro_ts import compile_types
from codegen.exceptions import SchemaDefinitionError
from streams.codec import SchemaCatalog

EVERY_TYPE = json.loads((Path(__file__).parent / "every_type.avsc").read_text())


@pytest.fixture(scope="module")
def every_type_ts() -> str:
    return compile_types([SchemaFile.parse("EveryType", EVERY_TYPE)])


def interface(source: str, name: str) -> dict[str, str]:
    """Field name (with ``?`` when optional) -> TypeScript type, of one generated interface."""
    body = re.search(rf"export interface {name} \{{\n(.*?)\n\}}", source, re.S)
    assert body is not None, f"interface {name} not generated"
    fields = re.findall(r"^  (\w+\??): (.+);$", body.group(1), re.M)
    return dict(fields)


def test_primitives_map_to_their_javascript_types(every_type_ts: str) -> None:
    fields = interface(every_type_ts, "EveryType")
    assert fields["nothing"] == "null"
    assert fields["flag"] == "boolean"
    assert fields["small"] == fields["big"] == fields["ratio"] == fields["precise"] == "number"
    assert fields["blob"] == "Buffer"
    assert fields["text"] == "string"


def test_named_types_become_declarations(every_type_ts: str) -> None:
    assert 'export type Color = "RED" | "GREEN" | "BLUE";' in every_type_ts
    assert (
        'export const ColorSymbols: readonly Color[] = ["RED", "GREEN", "BLUE"];' in every_type_ts
    )
    assert "export type Md5 = Buffer;" in every_type_ts
    assert "Avro fixed `camguard.test.Md5`, 16 bytes." in every_type_ts
    assert 'Readers map unknown symbols to "RED".' in every_type_ts
    fields = interface(every_type_ts, "EveryType")
    assert fields["color"] == "Color"
    assert fields["digest"] == "Md5"


def test_collections_and_unions(every_type_ts: str) -> None:
    fields = interface(every_type_ts, "EveryType")
    assert fields["tags"] == "string[]"
    assert fields["children"] == "Child[]"
    assert fields["counts"] == "Record<string, number>"
    assert fields["nested_map"] == "Record<string, Array<number | null>>"
    assert fields["maybe"] == "string | null"
    assert fields["maybe_child"] == "Child | null"
    assert fields["choice"] == "string | number | boolean | Md5 | Color[] | null"


def test_logical_types_map_to_underlying_values_and_are_documented(every_type_ts: str) -> None:
    fields = interface(every_type_ts, "EveryType")
    assert fields["created_at"] == fields["day"] == fields["clock"] == "number"
    assert fields["id"] == "string"
    assert fields["amount"] == "Buffer"
    assert fields["fixed_amount"] == "Money"
    assert fields["seen_at"] == "number | null"
    assert "milliseconds since the Unix epoch, UTC" in every_type_ts
    assert "microseconds since the Unix epoch, UTC" in every_type_ts
    assert "Avro `decimal` (precision 9, scale 2)" in every_type_ts
    assert "Avro `decimal` (precision 18, scale 4)" in every_type_ts
    assert "Avro `uuid`" in every_type_ts


def test_fields_with_defaults_are_optional_only_on_the_writer_type(every_type_ts: str) -> None:
    reader = interface(every_type_ts, "EveryType")
    writer = interface(every_type_ts, "EveryTypeInput")
    assert {"flag", "tags", "maybe", "maybe_child", "seen_at"} <= reader.keys()
    assert {"flag?", "tags?", "maybe?", "maybe_child?", "seen_at?"} <= writer.keys()
    assert writer["text"] == "string"
    assert writer["children"] == "ChildInput[]"
    assert writer["maybe_child?"] == "ChildInput | null"
    assert interface(every_type_ts, "ChildInput") == {"label": "string", "weight?": "number"}


def test_docs_become_tsdoc_and_cannot_close_the_comment(every_type_ts: str) -> None:
    assert "the *\\/ here must not end the comment" in every_type_ts
    assert "/** Always null. */\n  nothing: null;" in every_type_ts
    assert "@defaultValue true" in every_type_ts


def test_output_is_deterministic_and_independent_of_file_order() -> None:
    files = load_current()
    first = compile_types(files)
    assert compile_types(list(reversed(files))) == first
    assert first == compile_types(load_current())


def test_top_level_records_are_listed_for_the_runtime() -> None:
    source = compile_types(load_current())
    assert "  Frame: Frame;" in source
    assert "  Frame: FrameInput;" in source
    # Box is defined inside AnonymizedFrame.avsc and in Box.avsc, once in the output.
    assert source.count("export interface Box {") == 1


def test_fingerprint_constants_equal_the_python_codec() -> None:
    files = load_current()
    registry = render_registry(files, {})
    catalog = SchemaCatalog.from_dir()
    for name in catalog.names:
        expected = catalog.current(name).fingerprint.hex()
        constant = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper() + "_FINGERPRINT"
        assert f'export const {constant} = "{expected}";' in registry


@pytest.mark.parametrize(
    ("branches", "clash"),
    [
        (["int", "long"], "int and long are both a JavaScript number"),
        (["string", {"type": "enum", "name": "E", "symbols": ["A"]}], "string and"),
        (
            [
                {"type": "record", "name": "A", "fields": []},
                {"type": "record", "name": "B", "fields": []},
            ],
            "both a JavaScript object",
        ),
        (["bytes", {"type": "fixed", "name": "F", "size": 2}], "both a JavaScript buffer"),
    ],
)
def test_unions_avsc_cannot_unwrap_are_rejected(branches: list[Any], clash: str) -> None:
    schema = {"type": "record", "name": "U", "fields": [{"name": "pick", "type": branches}]}
    with pytest.raises(SchemaDefinitionError, match=re.escape(clash)) as info:
        compile_types([SchemaFile.parse("U", schema)])
    assert "U.pick" in str(info.value)


def test_a_type_defined_differently_in_two_files_is_rejected() -> None:
    def with_enum(symbols: list[str]) -> dict[str, Any]:
        kind = {"type": "enum", "name": "Kind", "symbols": symbols}
        return {
            "type": "record",
            "name": f"R{len(symbols)}",
            "fields": [{"name": "k", "type": kind}],
        }

    one = SchemaFile.parse("R1", with_enum(["A"]))
    two = SchemaFile.parse("R2", with_enum(["A", "B"]))
    with pytest.raises(SchemaDefinitionError, match="Kind is defined differently"):
        compile_types([one, two])


def test_an_unknown_type_name_is_reported() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "Missing"}]}
    with pytest.raises(SchemaDefinitionError, match="unknown type name 'Missing'"):
        compile_types([SchemaFile.parse("R", schema)])
