"""The local service scripts fail with a clear message rather than a stack trace."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from streams.devstack import KAFKA_SCRIPT, PG_SCRIPT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("script", [KAFKA_SCRIPT, PG_SCRIPT])
def test_port_already_taken_is_named(script: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            ["bash", str(script), "start", "--port", str(port), "--dir", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode != 0
    assert f"port {port} is already taken" in done.stderr
    assert "Traceback" not in done.stderr


def test_kafka_status_of_a_broker_that_is_not_running(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "status", "--port", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert "not running" in done.stdout


def test_missing_java_says_what_to_install(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JAVA": "/nonexistent/java"}
    done = subprocess.run(
        ["/bin/bash", str(KAFKA_SCRIPT), "start", "--port", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode != 0
    assert "apt-get install" in done.stderr
    assert "openjdk-17" in done.stderr
