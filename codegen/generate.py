"""Everything under codegen/generated/, built in memory, then written or compared.

:func:`build_outputs` returns ``{relative path: text}``; :func:`write_outputs` writes it (and
removes generated files no source produces any more); :func:`stale_outputs` lists what differs,
which ``python -m codegen --check`` turns into a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from codegen.avro_registry import render_registry
from codegen.avro_schema import HISTORY_DIR, SCHEMA_DIR, load_current, load_history
from codegen.avro_ts import compile_types
from codegen.http_contracts import build_http_outputs
from codegen.tsdoc import GENERATED_HEADER

CODEGEN_DIR = Path(__file__).resolve().parent
GENERATED_DIR = CODEGEN_DIR / "generated"

_AVRO_INDEX = GENERATED_HEADER + 'export * from "./types";\nexport * from "./schemas";\n'


def build_avro_outputs(
    schema_dir: Path = SCHEMA_DIR, history_dir: Path = HISTORY_DIR
) -> dict[str, str]:
    """``avro/types.ts``, ``avro/schemas.ts`` and ``avro/index.ts``."""
    current = load_current(schema_dir)
    history = load_history(history_dir)
    return {
        "avro/types.ts": compile_types(current),
        "avro/schemas.ts": render_registry(current, history),
        "avro/index.ts": _AVRO_INDEX,
    }


def build_outputs() -> dict[str, str]:
    """Every generated file, by path relative to codegen/generated/."""
    return {**build_avro_outputs(), **build_http_outputs(CODEGEN_DIR)}


def _existing(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def stale_outputs(outputs: Mapping[str, str], directory: Path = GENERATED_DIR) -> list[str]:
    """Generated paths whose file is missing, different, or no longer produced."""
    stale = [
        path
        for path, text in outputs.items()
        if not (directory / path).is_file() or (directory / path).read_text("utf-8") != text
    ]
    return sorted(stale + sorted(_existing(directory) - set(outputs)))


def write_outputs(outputs: Mapping[str, str], directory: Path = GENERATED_DIR) -> list[str]:
    """Write ``outputs`` under ``directory``; returns the paths that changed."""
    changed = stale_outputs(outputs, directory)
    for path in changed:
        target = directory / path
        if path not in outputs:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(outputs[path], encoding="utf-8", newline="\n")
    return changed
