"""Run ``camguard`` commands as a user does: a console script started in an empty directory
with a shell's environment (no PYTHONPATH into the checkout, no data or spool dir given)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Settings a user would not have set; the tests check their defaults.
UNSET = ("PYTHONPATH", "CAMGUARD_DATA_DIR", "CAMGUARD_SPOOL_DIR", "KAFKA_BOOTSTRAP_SERVERS")


def user_env(**settings: str) -> dict[str, str]:
    """This process's environment without :data:`UNSET`, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env.update(settings)
    return env


@dataclass
class Served:
    """A long-running command (worker, gateway) and its log."""

    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def get(self, url: str, within: float) -> httpx.Response:
        """The first 200 answer of ``url`` within ``within`` s; fails early if the command died."""
        deadline = time.monotonic() + within
        with httpx.Client(timeout=3) as client:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.tail()}"
                try:
                    answer = client.get(url)
                    if answer.status_code == 200:
                        return answer
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
        raise AssertionError(f"{url} did not answer 200 within {within:.0f} s:\n{self.tail()}")

    def until(self, url: str, check: Callable[[Any], bool], within: float) -> Any:
        """The first JSON body of ``url`` that passes ``check`` within ``within`` s."""
        deadline = time.monotonic() + within
        body: Any = None
        while time.monotonic() < deadline:
            body = self.get(url, within=deadline - time.monotonic()).json()
            if check(body):
                return body
            time.sleep(0.5)
        raise AssertionError(f"{url} never passed the check; last {body}:\n{self.tail()}")

    def stop(self, within: float = 60) -> int:
        """SIGTERM, as an operator stops it; the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(within)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def serve(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> Served:
    """Start ``argv`` in ``cwd`` with its output in ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Served(proc, log)


def run(
    argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion in ``cwd``."""
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
