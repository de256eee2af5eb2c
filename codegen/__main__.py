"""``python -m codegen``: regenerate codegen/generated/; ``--check``: fail when it is stale or a
schema change breaks FULL_TRANSITIVE compatibility with a kept version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from codegen.exceptions import CodegenError, StaleGeneratedError
from codegen.generate import GENERATED_DIR, build_outputs, stale_outputs, write_outputs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when anything is stale"
    )
    args = parser.parse_args(argv)
    try:
        outputs = build_outputs()
        if args.check:
            stale = stale_outputs(outputs)
            if stale:
                raise StaleGeneratedError(stale)
            print(f"codegen: {len(outputs)} generated files up to date")
        else:
            changed = write_outputs(outputs)
            print(
                f"codegen: {len(changed)} of {len(outputs)} files changed in {GENERATED_DIR.name}/"
            )
    except CodegenError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
