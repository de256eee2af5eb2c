"""The README's commands, typed literally in an empty directory: `camguard kafka start`, then
`camguard worker`, which answers /healthz with its state under ./var (no directory prepared)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.anonymize.model_registry import fetch_models
from streams.devstack import free_port
from streams.settings import Settings
from tests.e2e.commands import run, serve, user_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CAMGUARD = Path(sys.executable).with_name("camguard")  # the console script `make` installs


@pytest.fixture(scope="module")
def models() -> None:
    fetch_models(Settings().models_dir)  # what `make test` did before; no download when cached


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`camguard kafka start --port P` in an empty directory (KAFKA_BOOTSTRAP_SERVERS wins)."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if given:
        yield given
        return
    tmp = tmp_path_factory.mktemp("fresh-kafka")
    cwd = tmp / "cwd"
    cwd.mkdir()
    port = str(free_port())
    where = ["--port", port, "--dir", str(tmp / "kafka")]
    started = run([str(CAMGUARD), "kafka", "start", *where], cwd, user_env(), timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "topics created: camera.frames" in started.stdout
    try:
        yield f"127.0.0.1:{port}"
    finally:
        run([str(CAMGUARD), "kafka", "stop", *where], cwd, user_env(), timeout=60)


def test_worker_starts_in_an_empty_directory_and_answers_healthz(
    broker: str, models: None, tmp_path: Path
) -> None:
    assert CAMGUARD.is_file(), f"{CAMGUARD} missing: run `make` (pip install -e '.[dev,cpu]')"
    cwd = tmp_path / "empty"
    cwd.mkdir()
    port = free_port()
    env = user_env(
        CAMGUARD_BROKER=f"kafka://{broker}",
        CAMGUARD_WEB_PORT=str(port),
        CAMGUARD_SHUTDOWN_TIMEOUT_S="15",
    )
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):  # a shared cluster: a group of our own
        env["CAMGUARD_APP_ID"] = f"fresh-checkout-{port}"
    worker = serve([str(CAMGUARD), "worker"], cwd, env, tmp_path / "worker.log")
    try:
        assert worker.get(f"http://127.0.0.1:{port}/healthz", within=180).status_code == 200
        assert (cwd / "var" / "camguard").is_dir(), "the default data dir is ./var/camguard"
        assert f"data dir: {(cwd / 'var' / 'camguard').resolve()}" in worker.tail()
    finally:
        worker.stop()


def test_gateway_starts_in_an_empty_directory_with_its_spool_under_var(
    broker: str, tmp_path: Path
) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    port = free_port()
    env = user_env(CAMGUARD_BROKER=f"kafka://{broker}", CAMGUARD_GATEWAY_PORT=str(port))
    argv = [str(CAMGUARD), "gateway", "--camera-id", f"fresh-{port}", "--fps", "5"]
    gateway = serve(argv, cwd, env, tmp_path / "gateway.log")
    try:
        url = f"http://127.0.0.1:{port}/queue/stats"
        gateway.until(url, lambda stats: stats["producer"]["delivered_total"] > 0, within=60)
        assert (cwd / "var" / "spool").is_dir(), "the default spool dir is ./var/spool"
    finally:
        assert gateway.stop() == 0, gateway.tail()


def test_a_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = user_env(CAMGUARD_DATA_DIR=str(blocker / "camguard"), CAMGUARD_BROKER="kafka://x:1")
    done = run([str(CAMGUARD), "worker"], tmp_path, env, timeout=120)
    assert done.returncode == 1
    assert "set CAMGUARD_DATA_DIR to a writable folder" in done.stderr
    assert "Traceback" not in done.stderr
