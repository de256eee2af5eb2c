"""Run the fuzz harnesses with atheris: ``python -m fuzz.run [--runs N] [TARGET ...]``.

Each target runs in its own process (libFuzzer runs once per process) for ``--runs`` inputs,
starting from its seeds in ``fuzz/corpus/<target>/`` plus what earlier runs found in
``var/fuzz/corpus/<target>/`` (new inputs go there, never into the committed seeds). The
harness code is instrumented for coverage after a warm-up, so caches built on first use (the
codec's catalog, compiled Avro readers) are instrumented too.

A crash is an exception the harness lets escape (the contract is broken) or a libFuzzer
finding (deadly signal, timeout, out of memory). Escaping exceptions are recorded and
fuzzing goes on: each distinct one (type and innermost frame in our code) is written once to
``var/fuzz/crashes/<target>/`` with its traceback. A line per target reports inputs run,
crashes, and time; the exit status is 1 when any target crashed.

Replay one input without atheris: ``python -m fuzz.run --replay TARGET FILE``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import logging
import re
import subprocess
import sys
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fuzz import json_mutator
from fuzz.harnesses import HARNESSES, Harness

FUZZ_DIR = Path(__file__).resolve().parent
REPO = FUZZ_DIR.parent
CORPUS = FUZZ_DIR / "corpus"
DICTS = FUZZ_DIR / "dicts"
WORK = REPO / "var" / "fuzz"
CRASH_MARK = "CAMGUARD-FUZZ-CRASH"
DICTIONARIES = {
    "image": ("image",),
    "webhook": ("json", "webhook"),
    "avsc": ("json", "avsc"),
    "openapi30": ("json", "openapi30"),
}
"""Token lists (``fuzz/dicts/<part>.dict``) that help libFuzzer past keyword checks."""
_OUR_CODE = (str(REPO / "streams"), str(REPO / "codegen"), "<avro reader")


# --- child: one target under atheris -------------------------------------------------------


def signature(exc: BaseException) -> str:
    """Type and innermost frame in camguard's code: one crash however it is reached."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(_OUR_CODE)] or frames[-1:]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


class CrashRecorder:
    """Wraps a harness: an escaping exception is saved once per signature and fuzzing goes on."""

    def __init__(self, target: str, folder: Path) -> None:
        self.target = target
        self.folder = folder
        self.seen: set[str] = set()

    def wrap(self, run: Callable[[bytes], None]) -> Callable[[bytes], None]:
        def one_input(data: bytes) -> None:
            try:
                run(data)
            except Exception as exc:  # the harness's contract is broken: a crash
                self.record(data, exc)

        return one_input

    def record(self, data: bytes, exc: Exception) -> None:
        sig = signature(exc)
        if sig in self.seen:
            return
        self.seen.add(sig)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"crash-{hashlib.sha1(data).hexdigest()[:16]}"
        path.write_bytes(data)
        trace = "".join(traceback.format_exception(exc))
        path.with_suffix(".txt").write_text(f"{sig}\n\n{trace}")
        print(f"{CRASH_MARK} {sig} | {path}", file=sys.stderr, flush=True)


def instrument(harness: Harness) -> int:
    """Add atheris coverage to every loaded function of the harness's sources."""
    # Imported here: the harnesses and this module's helpers work without atheris (the corpus
    # replay in tests), only the fuzzing child needs it.
    import atheris  # type: ignore[import-untyped]

    count = 0
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and any(
            part in obj.__code__.co_filename for part in harness.sources
        ):
            atheris.instrument_func(obj)
            count += 1
    return count


def child(target: str, libfuzzer_args: list[str]) -> None:
    import atheris

    logging.disable(logging.CRITICAL)  # recovery's warnings for every input would fill the log
    harness = HARNESSES[target]
    for seed in sorted((CORPUS / target).glob("*")):  # warm caches before instrumenting
        harness.run(seed.read_bytes())
    print(f"INFO: instrumented {instrument(harness)} functions", file=sys.stderr, flush=True)
    recorder = CrashRecorder(target, WORK / "crashes" / target)
    mutator = None
    if harness.json:

        def mutator(data: bytes, max_size: int, seed: int) -> bytes:
            return json_mutator.mutate(data, max_size, seed, atheris.Mutate)

    atheris.Setup(
        [sys.argv[0], *libfuzzer_args], recorder.wrap(harness.run), custom_mutator=mutator
    )
    atheris.Fuzz()


# --- parent: one process per target, a line of figures each -------------------------------


@dataclass
class Outcome:
    target: str
    runs: int
    crashes: list[str]
    seconds: float
    corpus: int
    log: Path


def _parse(target: str, log: Path, seconds: float, status: int) -> Outcome:
    text = log.read_text(errors="replace")
    done = re.findall(r"Done (\d+) runs in", text)
    progress = re.findall(r"^#(\d+)\s", text, re.MULTILINE)
    runs = int(done[-1]) if done else max((int(n) for n in progress), default=0)
    crashes = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith(CRASH_MARK)]
    found = re.search(r"ERROR: libFuzzer: (.+)", text) or re.search(r"(ALARM: .+)", text)
    if found or (status != 0 and not done):
        written = re.findall(r"Test unit written to (\S+)", text)
        what = found.group(1) if found else f"exit status {status}"
        crashes.append(f"libFuzzer {what} | {written[-1] if written else log}")
    corpus = re.findall(r"corp: (\d+)/", text)
    return Outcome(target, runs, crashes, seconds, int(corpus[-1]) if corpus else 0, log)


def fuzz_target(target: str, runs: int, timeout_s: int, extra: list[str]) -> Outcome:
    harness = HARNESSES[target]
    work = WORK / "corpus" / target
    crashes = WORK / "crashes" / target
    for folder in (work, crashes):
        folder.mkdir(parents=True, exist_ok=True)
    args = [
        f"-runs={runs}",
        f"-max_len={harness.max_len}",
        f"-timeout={timeout_s}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
        *extra,
    ]
    if target in DICTIONARIES:  # libFuzzer takes one -dict: the target's parts joined
        dictionary = WORK / f"{target}.dict"
        parts = [(DICTS / f"{part}.dict").read_text() for part in DICTIONARIES[target]]
        dictionary.write_text("\n".join(parts))
        args.append(f"-dict={dictionary}")
    log = WORK / f"{target}.log"
    command = [sys.executable, "-m", "fuzz.run", "--child", target, *args]
    started = time.monotonic()
    with log.open("w") as out:
        status = subprocess.call(
            [*command, str(work), str(CORPUS / target)], stdout=out, stderr=out, cwd=REPO
        )
    return _parse(target, log, time.monotonic() - started, status)


def replay(target: str, path: Path) -> None:
    """Run one input through a harness and show what escapes (no atheris)."""
    HARNESSES[target].run(path.read_bytes())
    print(f"{target}: {path} passes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(HARNESSES)}")
    parser.add_argument("--runs", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--replay", nargs=2, metavar=("TARGET", "FILE"))
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # internal: one target under atheris, libFuzzer's arguments
        child(argv[1], argv[2:])
        return 0
    args, extra = parser.parse_known_args(argv)  # unknown -flags go to libFuzzer
    if args.replay:
        replay(args.replay[0], Path(args.replay[1]))
        return 0
    targets = args.targets or list(HARNESSES)
    unknown = set(targets) - set(HARNESSES)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    outcomes = []
    for target in targets:
        outcome = fuzz_target(target, args.runs, args.timeout, extra)
        outcomes.append(outcome)
        print(
            f"{target:<14} inputs {outcome.runs:>9,}  crashes {len(outcome.crashes):>2}  "
            f"corpus {outcome.corpus:>5}  {outcome.seconds:7.1f} s",
            flush=True,
        )
        for crash in outcome.crashes:
            print(f"    crash: {crash}", flush=True)
    total = sum(len(o.crashes) for o in outcomes)
    print(f"{len(outcomes)} targets, {sum(o.runs for o in outcomes):,} inputs, {total} crashes")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
