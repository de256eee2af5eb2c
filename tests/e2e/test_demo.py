"""`camguard demo` end to end: broker, worker and simulated cameras, frames flowing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_unattended_with_frames_flowing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "45", "--cameras", "2"],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert re.search(r"stats page:\s+http://127\.0\.0\.1:\d+/stats/", out)
    totals = re.search(r"\[demo\] totals: (\{.*\})", out)
    assert totals, out[-4000:]
    counts = ast.literal_eval(totals.group(1))
    assert counts["camera.frames"] > 0
    assert counts["camera.frames.anonymized"] > 0
    assert counts["camera.events"] > 0
    assert "stopping" in out
