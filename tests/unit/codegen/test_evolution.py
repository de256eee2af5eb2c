"""The FULL_TRANSITIVE schema-evolution gate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from codegen.avro_schema import SCHEMA_DIR, SchemaFile, load_current, load_history
from codegen.evolution import can_read, check_evolution, full_transitive_problems
from codegen.history import keep_current
from streams.codec import AvroCodec, SchemaCatalog, fingerprint

FRAME: dict[str, Any] = json.loads((SCHEMA_DIR / "Frame.avsc").read_text())


def frame(change: Any = None) -> dict[str, Any]:
    schema = copy.deepcopy(FRAME)
    if change is not None:
        change(schema["fields"])
    return schema


def parse(raw: dict[str, Any]) -> SchemaFile:
    return SchemaFile.parse("Frame", raw)


def problems(new: dict[str, Any], *old: dict[str, Any]) -> list[str]:
    return full_transitive_problems(parse(new), [(i + 1, parse(o)) for i, o in enumerate(old)])


def field(fields: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(f for f in fields if f["name"] == name)


def test_the_repository_schemas_pass_the_gate() -> None:
    assert check_evolution(load_current(), load_history()) == []


def test_a_field_added_with_a_default_is_compatible() -> None:
    added = frame(lambda f: f.append({"name": "zone", "type": "string", "default": "main"}))
    assert problems(added, FRAME) == []


def test_a_field_added_without_a_default_is_rejected() -> None:
    added = frame(lambda f: f.append({"name": "zone", "type": "string"}))
    assert problems(added, FRAME) == [
        "Frame (new) cannot read v1 data: Frame.zone: field missing from the writer and the "
        "reader has no default"
    ]


def test_a_field_removed_without_a_default_is_rejected() -> None:
    removed = frame(lambda f: f.remove(field(f, "seq")))
    assert problems(removed, FRAME) == [
        "Frame v1 readers cannot read new data: Frame.seq: field missing from the writer and "
        "the reader has no default"
    ]


def test_a_field_removed_that_had_a_default_is_compatible() -> None:
    removed = frame(lambda f: f.remove(field(f, "site_id")))
    assert problems(removed, FRAME) == []


def test_a_type_change_without_promotion_is_rejected_in_both_directions() -> None:
    changed = frame(lambda f: field(f, "seq").update(type="string"))
    assert problems(changed, FRAME) == [
        "Frame (new) cannot read v1 data: Frame.seq: type changed long -> string "
        "(no Avro promotion)",
        "Frame v1 readers cannot read new data: Frame.seq: type changed string -> long "
        "(no Avro promotion)",
    ]


def test_a_one_way_promotion_fails_full_compatibility() -> None:
    widened = frame(lambda f: field(f, "width").update(type="long"))
    assert can_read(parse(widened), parse(FRAME)) == []
    assert problems(widened, FRAME) == [
        "Frame v1 readers cannot read new data: Frame.width: type changed long -> int "
        "(no Avro promotion)"
    ]


def test_string_and_bytes_resolve_both_ways() -> None:
    as_bytes = frame(lambda f: field(f, "camera_id").update(type="bytes"))
    assert problems(as_bytes, FRAME) == []


def test_every_kept_version_is_checked_not_only_the_latest() -> None:
    v2 = frame(lambda f: f.append({"name": "zone", "type": "string", "default": "a"}))
    v3 = frame(lambda f: f.append({"name": "zone", "type": "string"}))
    found = problems(v3, FRAME, v2)
    assert found == [
        "Frame (new) cannot read v1 data: Frame.zone: field missing from the writer and the "
        "reader has no default"
    ]


def test_enum_symbols_added_need_a_reader_default() -> None:
    tiff = frame(lambda f: field(f, "encoding")["type"]["symbols"].append("TIFF"))
    assert problems(tiff, FRAME) == [
        "Frame v1 readers cannot read new data: Frame.encoding: enum FrameEncoding: symbols "
        "['TIFF'] unknown to the reader and the reader's enum has no default"
    ]
    old_with_default = frame(lambda f: field(f, "encoding")["type"].update(default="JPEG"))
    tiff_with_default = frame(lambda f: field(f, "encoding")["type"].update(default="JPEG"))
    tiff_with_default["fields"][5]["type"]["symbols"].append("TIFF")
    assert problems(tiff_with_default, old_with_default) == []


def test_union_changes() -> None:
    not_null = frame(lambda f: field(f, "org_id").update(type="string", default="none"))
    assert "Frame.org_id: type changed null -> string" in "\n".join(problems(not_null, FRAME))
    wider = frame(lambda f: field(f, "org_id").update(type=["null", "string", "long"]))
    assert "union: no reader branch accepts writer branch long" in "\n".join(problems(wider, FRAME))


def test_renamed_records_need_an_alias() -> None:
    renamed = frame()
    renamed["name"] = "Picture"
    assert "named type camguard.v1.Frame renamed to camguard.v1.Picture" in "\n".join(
        problems(renamed, FRAME)
    )
    renamed["aliases"] = ["Frame"]
    assert can_read(parse(renamed), parse(FRAME)) == []


def test_logical_type_changes_are_refused() -> None:
    micros = frame(lambda f: field(f, "captured_at")["type"].update(logicalType="timestamp-micros"))
    assert "logical type changed timestamp-millis -> timestamp-micros" in "\n".join(
        problems(micros, FRAME)
    )


def test_a_default_not_matching_the_first_union_branch_is_refused() -> None:
    bad = frame(lambda f: f.append({"name": "zone", "type": ["string", "null"], "default": None}))
    assert check_evolution([parse(bad)], {}) == [
        "Frame: Frame.zone: default null is not a value of the union's first branch (null is "
        "not a valid string)"
    ]


def test_keeping_versions_writes_only_changed_schemas(tmp_path: Path) -> None:
    current = [parse(FRAME)]
    assert [p.name for p in keep_current(current, {}, tmp_path)] == ["v1.avsc"]
    kept = load_history(tmp_path)
    assert keep_current(current, kept, tmp_path) == []
    added = parse(frame(lambda f: f.append({"name": "zone", "type": "string", "default": "a"})))
    assert [p.name for p in keep_current([added], kept, tmp_path)] == ["v2.avsc"]


def test_kept_versions_are_decodable_by_the_python_codec(tmp_path: Path) -> None:
    (tmp_path / "history" / "Frame").mkdir(parents=True)
    (tmp_path / "history" / "Frame" / "v1.avsc").write_text(json.dumps(FRAME))
    new = frame(lambda f: f.append({"name": "zone", "type": "string", "default": "main"}))
    (tmp_path / "Frame.avsc").write_text(json.dumps(new))
    old_codec = AvroCodec(SchemaCatalog([FRAME]))
    record = {
        "camera_id": "cam-1",
        "captured_at": 1_700_000_000_000,
        "seq": 7,
        "encoding": "PNG",
        "width": 2,
        "height": 1,
        "data": b"\x89PNG",
    }
    decoded = AvroCodec(SchemaCatalog.from_dir(tmp_path)).decode_as(
        "Frame", old_codec.encode("Frame", record)
    )
    assert decoded["zone"] == "main"
    assert decoded["seq"] == 7


@pytest.mark.parametrize("name", [f.name for f in load_current()])
def test_history_files_are_valid_schemas_for_the_codec(name: str) -> None:
    kept = load_history()[name]
    catalog = SchemaCatalog([], [dict(v.raw) for _, v in kept])
    assert all(catalog.by_fingerprint(fingerprint(v.raw)) is not None for _, v in kept)
