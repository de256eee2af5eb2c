"""The ``camguard`` command.

    camguard worker                 run a stream-processing worker (Faust)
    camguard kafka start|stop|status|topics
    camguard postgres start|stop    a throwaway PostgreSQL with the Supabase schema
    camguard demo                   broker + worker + simulated cameras, end to end
    camguard gateway --camera-id ID --source FILE|rtsp://...|synthetic   (streams/cli/gateway.py)
    camguard models fetch|list      the pinned ONNX detectors (streams/anonymize/MODELS.md)
    camguard policy set|get|delete|sync|keygen   service policies (streams/cli/policy.py)

Other packages add their subcommands in :func:`build_parser` (one line each). ``python -m
streams.cli`` is the same command. The CLI starts the Faust worker (agents/worker.py) but no
agent imports the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from streams.anonymize.exceptions import ProviderError
from streams.anonymize.ort import check_runtime
from streams.cli.gateway import add_gateway_parser
from streams.cli.onnx_models import add_models_parser
from streams.cli.policy import add_parser as add_policy_parser
from streams.devstack import KAFKA_SCRIPT, PG_SCRIPT
from streams.kafka_security import KafkaSecurityError
from streams.settings import Settings, StateDirError, ensure_state_dir

log = logging.getLogger("camguard")


def _runtime_ready(command: str) -> bool:
    """Exactly one ONNX Runtime is installed (checked before anything imports it)."""
    try:
        log.info("inference runtime: %s", check_runtime())
    except ProviderError as exc:
        print(f"camguard {command}: {exc}", file=sys.stderr)
        return False
    return True


def _cmd_worker(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.web_port is not None:
        overrides["web_port"] = args.web_port
    if args.data_dir is not None:
        overrides["data_dir"] = Path(args.data_dir)
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if not _runtime_ready("worker"):
        return 2
    try:
        log.info("data dir: %s", ensure_state_dir(settings.data_dir, "CAMGUARD_DATA_DIR"))
    except StateDirError as exc:
        print(f"camguard worker: {exc}", file=sys.stderr)
        return 1
    from agents.worker import run_worker  # imports onnxruntime: after the check above

    run_worker(settings, loglevel=args.loglevel)
    return 0


def _cmd_script(script: Path, args: argparse.Namespace) -> int:
    import subprocess

    argv = ["bash", str(script), args.action]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.dir is not None:
        argv += ["--dir", args.dir]
    return subprocess.run(argv, check=False).returncode


def _cmd_kafka(args: argparse.Namespace) -> int:
    from agents.worker import preflight

    if args.action not in ("start", "topics"):
        return _cmd_script(KAFKA_SCRIPT, args)
    if args.action == "start" and (rc := _cmd_script(KAFKA_SCRIPT, args)) != 0:
        return rc
    settings = Settings()
    if args.action == "start" and args.port is not None:
        settings = Settings(broker=f"kafka://127.0.0.1:{args.port}")
    created = asyncio.run(preflight(settings))
    print("topics created: " + (", ".join(created) if created else "none (all exist)"))
    return 0


def _cmd_postgres(args: argparse.Namespace) -> int:
    return _cmd_script(PG_SCRIPT, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    if not _runtime_ready("demo"):
        return 2
    from streams.cli.demo import run_demo

    return run_demo(duration_s=args.duration, cameras=args.cameras)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camguard", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run a stream-processing worker")
    worker.add_argument("--web-port", type=int, default=None)
    worker.add_argument("--data-dir", default=None)
    worker.add_argument("-l", "--loglevel", default="info")
    worker.set_defaults(func=_cmd_worker)

    for name, func, choices in (
        ("kafka", _cmd_kafka, ["start", "stop", "status", "fetch", "topics"]),
        ("postgres", _cmd_postgres, ["start", "stop", "dsn"]),
    ):
        p = sub.add_parser(name, help=f"local {name} for development")
        p.add_argument("action", choices=choices)
        p.add_argument("--port", type=int, default=None)
        p.add_argument("--dir", default=None)
        p.set_defaults(func=func)

    add_gateway_parser(sub)
    add_models_parser(sub)
    add_policy_parser(sub)

    demo = sub.add_parser("demo", help="run the whole pipeline locally")
    demo.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    demo.add_argument("--cameras", type=int, default=3)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KafkaSecurityError as exc:
        # A wrong password or an untrusted CA: name the cause instead of retrying or a traceback.
        print(f"camguard {args.command}: {exc}", file=sys.stderr)
        return 1
