"""Support for policy tests and bench/policy_propagation.py: webhook payloads as Supabase sends
them, signed requests, and worker processes (``camguard worker``) whose policies can be polled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from streams.policy.webhook import sign

EventType = Literal["INSERT", "UPDATE", "DELETE"]


def supabase_row(
    *,
    row_id: str | None = None,
    org_id: str | None = None,
    camera_id: str | None = None,
    policy_type: str = "privacy",
    config: Mapping[str, Any] | None = None,
    version: int = 1,
    service_name: str = "camguard",
    updated_at_ms: int | None = None,
) -> dict[str, Any]:
    """A service_policies row as JSON, the way a Supabase webhook carries it."""
    stamp = time.time() if updated_at_ms is None else updated_at_ms / 1000
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e6):06d}"
    return {
        "id": row_id or str(uuid.uuid4()),
        "org_id": org_id,
        "camera_id": camera_id,
        "class_id": None,
        "site_id": None,
        "service_name": service_name,
        "policy_type": policy_type,
        "config": dict(config or {}),
        "version": version,
        "created_at": iso + "+00:00",
        "updated_at": iso + "+00:00",
    }


def webhook_body(
    kind: EventType, record: Mapping[str, Any] | None, old: Mapping[str, Any] | None = None
) -> bytes:
    """The JSON body of a database webhook for service_policies."""
    payload = {
        "type": kind,
        "table": "service_policies",
        "schema": "public",
        "record": None if kind == "DELETE" else record,
        "old_record": old if kind != "INSERT" else None,
    }
    return json.dumps(payload).encode()


def signed_headers(secret: bytes, body: bytes, now_s: float | None = None) -> dict[str, str]:
    """HMAC headers for ``body``."""
    timestamp = str(int(time.time() if now_s is None else now_s))
    return {
        "Content-Type": "application/json",
        "X-Camguard-Timestamp": timestamp,
        "X-Camguard-Signature": sign(secret, timestamp, body),
    }


@dataclass
class WorkerProcess:
    """A ``camguard worker`` subprocess with its own web port."""

    bootstrap: str
    web_port: int
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, log_path: Path) -> None:
        env = {
            **os.environ,
            "CAMGUARD_BROKER": f"kafka://{self.bootstrap}",
            "CAMGUARD_STORE": "memory://",
            "CAMGUARD_DATA_DIR": str(self.data_dir),
            **self.env,
        }
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streams.cli",
                    "worker",
                    "--web-port",
                    str(self.web_port),
                    "-l",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def policies(self, client: httpx.Client, **scope: str) -> dict[str, Any] | None:
        """GET /policies (None while the worker does not answer yet)."""
        try:
            response = client.get(f"{self.url}/policies", params=scope, timeout=2.0)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_ready(self, client: httpx.Client, deadline_s: float) -> None:
        """Poll until the worker's policies are loaded; raise on timeout or exit."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker on port {self.web_port} exited")
            doc = self.policies(client)
            if doc is not None and doc.get("ready"):
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker on port {self.web_port} not ready in {deadline_s} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
