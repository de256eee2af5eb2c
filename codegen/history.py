"""Kept schema versions: ``schemas/avro/history/<Name>/v<N>.avsc``.

The evolution gate checks the current schemas against every kept version; the Python codec
(streams/codec.py) and the TypeScript runtime decode data written with any of them. Keep the
current schemas (``python -m codegen --keep``) whenever a changed schema is released.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from codegen.avro_registry import fingerprint_hex
from codegen.avro_schema import HISTORY_DIR, SchemaFile


def keep_current(
    current: Sequence[SchemaFile],
    history: Mapping[str, Sequence[tuple[int, SchemaFile]]],
    history_dir: Path = HISTORY_DIR,
) -> list[Path]:
    """Write each schema whose fingerprint differs from its latest kept version as v<N+1>."""
    written: list[Path] = []
    for schema_file in current:
        kept = history.get(schema_file.name, ())
        if kept and fingerprint_hex(kept[-1][1].raw) == fingerprint_hex(schema_file.raw):
            continue
        version = kept[-1][0] + 1 if kept else 1
        path = history_dir / schema_file.name / f"v{version}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema_file.raw, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
