"""``python -m codegen`` (``make codegen``): regenerate codegen/generated/.

``--check``: change nothing; fail when a generated file is stale, when a schema is not
FULL_TRANSITIVE compatible with a kept version, or when ``tsc --strict --noEmit`` fails.
``--keep``: keep every changed schema as the next version under schemas/avro/history/.
Both other modes run the evolution gate too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from codegen.avro_schema import load_current, load_history
from codegen.evolution import check_evolution
from codegen.exceptions import CodegenError, IncompatibleSchemaError, StaleGeneratedError
from codegen.generate import GENERATED_DIR, build_outputs, stale_outputs, write_outputs
from codegen.history import keep_current
from codegen.node_tools import run_tsc


def _evolution_gate() -> None:
    problems = check_evolution(load_current(), load_history())
    if problems:
        raise IncompatibleSchemaError(problems)


def _run(args: argparse.Namespace) -> str:
    _evolution_gate()
    if args.keep:
        written = keep_current(load_current(), load_history())
        names = ", ".join(f"{p.parent.name}/{p.name}" for p in written)
        return f"kept {len(written)} schema versions {names}".rstrip()
    outputs = build_outputs()
    if args.check:
        stale = stale_outputs(outputs)
        if stale:
            raise StaleGeneratedError(stale)
        run_tsc()
        return f"{len(outputs)} generated files up to date; schemas compatible; tsc passed"
    changed = write_outputs(outputs)
    return f"{len(changed)} of {len(outputs)} files changed in {GENERATED_DIR.name}/"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen", description="Regenerate camguard's TypeScript contracts."
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; fail when stale")
    mode.add_argument("--keep", action="store_true", help="keep changed schemas in history/")
    try:
        print(f"codegen: {_run(parser.parse_args(argv))}")
    except CodegenError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
