"""``camguard gateway``: run camera gateways (frames and events to Kafka, spooled to disk).

    camguard gateway --camera-id lobby --source rtsp://10.0.0.7/stream1 --fps 10
    camguard gateway --camera-id a --camera-id b --source synthetic
    camguard gateway --cameras 3 --source synthetic          # cam-1, cam-2, cam-3

``--source`` may be repeated, one per camera, or given once for all. ``synthetic`` generates a
moving scene with a face-like pattern (``synthetic:noface`` without). Broker, spool folder,
spool key and port come from the CAMGUARD_* settings (streams/settings.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from streams.gateway.camera_loop import CameraOptions, CameraSpec
from streams.gateway.service import Gateway, GatewayConfig
from streams.settings import Settings, StateDirError, ensure_state_dir
from streams.spool.exceptions import SpoolError


def add_gateway_parser(sub: Any) -> None:
    """Register the ``gateway`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("gateway", help="run camera gateways producing frames and events")
    p.add_argument("--camera-id", action="append", default=[], help="repeatable")
    p.add_argument("--cameras", type=int, default=None, help="N simulated ids cam-1..cam-N")
    p.add_argument("--source", action="append", default=[], help="FILE, rtsp://..., synthetic")
    p.add_argument("--fps", type=float, default=5.0)
    p.add_argument(
        "--frame-events",
        action="store_true",
        help="also send a FRAME_OK event per frame (when no camguard worker counts the frames)",
    )
    p.add_argument("--org-id", default=None)
    p.add_argument("--site-id", default=None)
    p.add_argument("--width", type=int, default=640, help="synthetic frame width")
    p.add_argument("--height", type=int, default=360, help="synthetic frame height")
    p.add_argument("--jpeg-quality", type=int, default=80)
    p.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    p.add_argument("--port", type=int, default=None, help="stats port (CAMGUARD_GATEWAY_PORT)")
    p.add_argument("--max-frames", type=int, default=None, help="stop each camera after N")
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    p.set_defaults(func=run_gateway_command)


def camera_specs(args: argparse.Namespace) -> tuple[CameraSpec, ...]:
    """The cameras the arguments ask for; ValueError when they do not add up."""
    ids = list(args.camera_id)
    if args.cameras is not None:
        ids += [f"cam-{i}" for i in range(1, args.cameras + 1)]
    if not ids:
        raise ValueError("give --camera-id (repeatable) or --cameras N")
    if len(set(ids)) != len(ids):
        raise ValueError("camera ids must be unique")
    sources = list(args.source) or ["synthetic"]
    if len(sources) not in (1, len(ids)):
        raise ValueError("give one --source for all cameras or one per camera")
    if len(sources) == 1:
        sources *= len(ids)
    return tuple(
        CameraSpec(
            camera_id=camera_id,
            source=source,
            fps=args.fps,
            org_id=args.org_id,
            site_id=args.site_id,
            width=args.width,
            height=args.height,
            seed=n,
            frame_events=args.frame_events,
        )
        for n, (camera_id, source) in enumerate(zip(ids, sources, strict=True))
    )


async def _run(settings: Settings, config: GatewayConfig, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    await Gateway(settings, config).run(stop)


def run_gateway_command(args: argparse.Namespace) -> int:
    try:
        cameras = camera_specs(args)
    except ValueError as exc:
        print(f"camguard gateway: {exc}")
        return 2
    config = GatewayConfig(
        cameras=cameras,
        heartbeat_interval_s=args.heartbeat,
        camera=CameraOptions(jpeg_quality=args.jpeg_quality, max_frames=args.max_frames),
        port=args.port,
    )
    settings = Settings()
    try:
        ensure_state_dir(settings.spool_dir, "CAMGUARD_SPOOL_DIR")
        asyncio.run(_run(settings, config, args.duration))
    except (SpoolError, StateDirError, ValueError) as exc:
        # A locked spool, a bad CAMGUARD_SPOOL_KEY: say what to fix instead of a traceback.
        print(f"camguard gateway: {exc}")
        return 1
    return 0
