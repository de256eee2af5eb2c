"""The saved fuzz corpus replayed through every harness, without atheris.

``fuzz/corpus/<target>/`` holds the seeds made from real inputs (``python -m fuzz.seeds``) and
every input that once crashed a parser (``crash-*``). Each must keep its parser's contract:
accepted, or refused with the parser's documented error class.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.harnesses import HARNESSES
from fuzz.run import CORPUS, signature


def test_every_harness_has_a_corpus_and_the_corpus_stays_small() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(HARNESSES)
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024, f"fuzz/corpus holds {size} bytes; keep seeds small"


@pytest.mark.parametrize("target", sorted(HARNESSES))
def test_every_saved_input_keeps_the_contract(target: str) -> None:
    files = sorted(p for p in (CORPUS / target).iterdir() if p.is_file())
    assert files, f"fuzz/corpus/{target} is empty: run python -m fuzz.seeds"
    failures = []
    for path in files:
        try:
            HARNESSES[target].run(path.read_bytes())
        except Exception as exc:
            failures.append(f"{Path(path).name}: {signature(exc)}: {exc!r}"[:300])
    assert not failures, (
        f"{len(failures)} of {len(files)} inputs broke the contract:\n" + "\n".join(failures)
    )
