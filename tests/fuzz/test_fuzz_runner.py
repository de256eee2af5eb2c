"""The fuzz runner's bookkeeping: crashes recorded once each, figures read from libFuzzer."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import json_mutator, run
from fuzz.harnesses import HARNESSES


def test_an_escaping_exception_is_saved_once_per_signature_and_fuzzing_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def parser(data: bytes) -> None:
        if data:
            raise KeyError(data)

    one_input = run.CrashRecorder("t", tmp_path).wrap(parser)
    for data in (b"", b"a", b"b", b""):
        one_input(data)  # returns: libFuzzer goes on to the next input
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len(saved) == 2  # the first input that crashed, and its traceback
    assert saved[0].startswith("crash-")
    assert (tmp_path / saved[0]).read_bytes() == b"a"
    assert capsys.readouterr().err.count(run.CRASH_MARK) == 1


def test_figures_come_from_libfuzzers_summary_and_crash_lines(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text(
        "#2\tINITED cov: 5 ft: 5 corp: 1/1b exec/s: 0 rss: 50Mb\n"
        "#9\tNEW    cov: 6 ft: 6 corp: 7/9b lim: 4 exec/s: 0 rss: 50Mb\n"
        f"{run.CRASH_MARK} KeyError at codec.py:12 | var/fuzz/crashes/t/crash-1\n"
        "Done 100000 runs in 61 second(s)\n"
    )
    outcome = run._parse("t", log, 61.5, 0)
    assert (outcome.runs, outcome.corpus) == (100_000, 7)
    assert outcome.crashes == ["KeyError at codec.py:12 | var/fuzz/crashes/t/crash-1"]


def test_a_libfuzzer_finding_counts_as_a_crash_with_its_artifact(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text(
        "#162\tREDUCE cov: 46 ft: 102 corp: 17/4297b lim: 603 exec/s: 0 rss: 102Mb\n"
        "==17807== ERROR: libFuzzer: out-of-memory (used: 2077Mb; limit: 2048Mb)\n"
        "artifact_prefix='x/'; Test unit written to x/oom-ca15\n"
    )
    outcome = run._parse("t", log, 2.0, 1)
    assert outcome.runs == 162
    assert outcome.crashes == ["libFuzzer out-of-memory (used: 2077Mb; limit: 2048Mb) | x/oom-ca15"]


def test_every_harness_names_sources_to_instrument_and_has_seeds() -> None:
    for name, harness in HARNESSES.items():
        assert harness.name == name
        assert harness.sources
        assert any((run.CORPUS / name).glob("seed-*")), name


def test_the_json_mutator_changes_structure_behind_the_prefix_and_never_raises() -> None:
    def byte_mutation(data: bytes, max_size: int) -> bytes:
        return data[:max_size]

    seed_input = b'\x00{"type":"INSERT","record":{"id":"a","version":1,"config":{}}}'
    changed = 0
    for seed in range(300):
        out = json_mutator.mutate(seed_input, 4096, seed, byte_mutation)
        assert len(out) <= 4096
        assert out.startswith(b"\x00")
        changed += out != seed_input
    assert changed > 100
    assert json_mutator.mutate(b"\x01no json", 64, 1, byte_mutation) == b"\x01no json"
