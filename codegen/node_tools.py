"""The Node tools the generator drives: openapi-typescript and tsc, as pinned by
codegen/package-lock.json (``make node-deps`` installs them with ``npm ci``)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codegen.exceptions import CodegenError, ToolMissingError, TypeCheckError

CODEGEN_DIR = Path(__file__).resolve().parent


def _node(script: Path, args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if not script.is_file():
        raise ToolMissingError(f"{script} missing: run `make node-deps` (npm ci in codegen/)")
    try:
        return subprocess.run(
            ["node", str(script), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except FileNotFoundError as exc:
        raise ToolMissingError("node is not on PATH: install Node.js 20 or newer") from exc


def run_openapi_typescript(document: Mapping[str, Any], codegen_dir: Path = CODEGEN_DIR) -> str:
    """openapi-typescript's TypeScript for ``document``."""
    cli = codegen_dir / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
    with tempfile.TemporaryDirectory(prefix="camguard-codegen-") as tmp:
        source = Path(tmp) / "openapi.json"
        source.write_text(json.dumps(document), encoding="utf-8")
        # Fields with a default stay optional (request bodies may omit them); response fields
        # are all required in the document already (streams/contract/openapi.py).
        done = _node(cli, [str(source), "--default-non-nullable=false"], codegen_dir)
    if done.returncode != 0:
        raise CodegenError(f"openapi-typescript failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def run_tsc(project: Path = CODEGEN_DIR) -> None:
    """``tsc --strict --noEmit`` over ``project``'s tsconfig.json; raises TypeCheckError."""
    tsc = project / "node_modules" / "typescript" / "bin" / "tsc"
    done = _node(tsc, ["--strict", "--noEmit", "-p", str(project)], project)
    if done.returncode != 0:
        raise TypeCheckError(
            "tsc --strict --noEmit failed:\n" + (done.stdout + done.stderr)[-4000:]
        )
