"""camguard as a wheel: built with `python -m build` (sdist, then the wheel from the sdist),
installed into a fresh venv, run from an empty directory outside the repository.

Installing every dependency from PyPI would take minutes, so the venv reaches this environment's
third-party packages through one .pth line. A .pth line adds a folder to sys.path without
processing the .pth files inside it, so the checkout's editable camguard stays invisible: every
camguard module, schema and script comes from the wheel (the first test proves it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.anonymize.model_registry import fetch_models
from streams.devstack import free_port
from streams.settings import Settings
from tests.e2e.commands import run, serve, user_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WHERE_THINGS_ARE = """
import json, common_schemas, codegen, agents, streams
from streams.assets import assets_root
from streams.codec import DEFAULT_SCHEMA_DIR
from streams.devstack import KAFKA_SCRIPT, MIGRATIONS_DIR, PG_SCRIPT
from streams.contract.openapi import service_version
print(json.dumps({
    "modules": [m.__file__ for m in (common_schemas, codegen, agents, streams)],
    "assets": str(assets_root()),
    "schemas": sorted(p.name for p in DEFAULT_SCHEMA_DIR.glob("*.avsc")),
    "history": len(list(DEFAULT_SCHEMA_DIR.glob("history/*/*.avsc"))),
    "migrations": sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql")),
    "scripts": [str(p) for p in (KAFKA_SCRIPT, PG_SCRIPT) if p.is_file()],
    "version": service_version(),
}))
"""


@dataclass(frozen=True)
class Installed:
    venv: Path
    python: Path
    camguard: Path


def _check(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    dist, venv = tmp / "dist", tmp / "venv"
    build = [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)]
    _check(subprocess.run(build, capture_output=True, text=True, timeout=240, check=False))
    (wheel,) = dist.glob("camguard-*.whl")
    _check(run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, user_env()))
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    _check(run([*pip, "--no-index", str(wheel)], tmp, user_env()))
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    paths = run([str(python), "-c", where], tmp, user_env())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(paths.stdout.strip()) / "camguard-test-deps.pth").write_text("\n".join(sorted(deps)))
    return Installed(venv, python, venv / "bin" / "camguard")


@pytest.fixture(scope="module")
def models() -> None:
    fetch_models(Settings().models_dir)  # the default models dir, as the wheel's worker uses


def test_everything_comes_from_the_wheel_outside_the_checkout(
    installed: Installed, tmp_path: Path
) -> None:
    done = run([str(installed.python), "-c", WHERE_THINGS_ARE], tmp_path, user_env())
    _check(done)
    found = json.loads(done.stdout)
    for module in found["modules"]:
        assert Path(module).is_relative_to(installed.venv), module
    assert Path(found["assets"]).is_relative_to(installed.venv)
    checkout = ROOT / "schemas" / "avro"
    assert found["schemas"] == sorted(p.name for p in checkout.glob("*.avsc"))
    assert found["history"] == len(list(checkout.glob("history/*/*.avsc")))
    migrations = ROOT / "infra" / "supabase" / "migrations"
    assert found["migrations"] == sorted(p.name for p in migrations.glob("*.sql"))
    assert len(found["scripts"]) == 2
    assert found["version"] == VERSION


def test_the_dev_stack_scripts_run_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    status = run(
        [str(installed.camguard), "kafka", "status", "--dir", str(tmp_path / "k")],
        tmp_path,
        user_env(),
    )
    assert (status.returncode, status.stdout.strip()) == (3, "not running"), status.stderr
    dsn = run([str(installed.camguard), "postgres", "dsn", "--port", "5999"], tmp_path, user_env())
    assert dsn.stdout.strip() == "postgresql://postgres@127.0.0.1:5999/postgres", dsn.stderr


def test_worker_from_the_wheel_answers_healthz_in_an_empty_directory(
    installed: Installed, kafka_bootstrap: str, models: None, tmp_path: Path
) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    port = free_port()
    env = user_env(
        CAMGUARD_BROKER=f"kafka://{kafka_bootstrap}",
        CAMGUARD_WEB_PORT=str(port),
        CAMGUARD_APP_ID=f"wheel-{port}",
        CAMGUARD_SHUTDOWN_TIMEOUT_S="15",
    )
    worker = serve([str(installed.camguard), "worker"], cwd, env, tmp_path / "worker.log")
    try:
        url = f"http://127.0.0.1:{port}"
        assert worker.get(f"{url}/healthz", within=180).status_code == 200
        assert "<html" in worker.get(f"{url}/dashboard", within=10).text.lower()
        openapi = worker.get(f"{url}/openapi.json", within=10).json()
        assert openapi["info"]["version"] == VERSION
        assert (cwd / "var" / "camguard").is_dir()
    finally:
        worker.stop()


def test_gateway_from_the_wheel_delivers_frames_from_an_empty_directory(
    installed: Installed, kafka_bootstrap: str, tmp_path: Path
) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    port = free_port()
    env = user_env(CAMGUARD_BROKER=f"kafka://{kafka_bootstrap}", CAMGUARD_GATEWAY_PORT=str(port))
    argv = [str(installed.camguard), "gateway", "--camera-id", f"wheel-{port}", "--fps", "5"]
    gateway = serve(argv, cwd, env, tmp_path / "gateway.log")
    try:
        url = f"http://127.0.0.1:{port}/queue/stats"
        gateway.until(url, lambda stats: stats["producer"]["delivered_total"] > 0, within=60)
        assert (cwd / "var" / "spool").is_dir()
    finally:
        assert gateway.stop() == 0, gateway.tail()


def test_worker_refuses_to_start_with_two_onnx_runtimes(
    installed: Installed, tmp_path: Path
) -> None:
    # onnxruntime-gpu installed beside onnxruntime: its metadata is all the check reads
    extra = tmp_path / "site"
    (extra / "onnxruntime_gpu-1.22.0.dist-info").mkdir(parents=True)
    metadata = "Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.22.0\n"
    (extra / "onnxruntime_gpu-1.22.0.dist-info" / "METADATA").write_text(metadata)
    env = user_env(PYTHONPATH=str(extra), CAMGUARD_BROKER="kafka://127.0.0.1:1")
    done = run([str(installed.camguard), "worker"], tmp_path, env)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()  # refused before anything was made


SPEC_SUITE_CHECK = """
import common_schemas, pathlib, sys
here = pathlib.Path(common_schemas.__file__).resolve()
sys.exit(0 if pathlib.Path(sys.prefix).resolve() in here.parents else f"from {here}")
"""


def test_the_specifications_snippets_pass_with_common_schemas_from_the_wheel(
    installed: Installed, models: None, tmp_path: Path
) -> None:
    """The verbatim common_schemas tests, run by the wheel's interpreter in a directory that
    holds a copy of the tests and nothing of camguard: every import resolves to the wheel."""
    suite = tmp_path / "suite"
    shutil.copytree(ROOT / "tests", suite / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    pytest_config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = dict(pytest_config["ini_options"])
    options.pop("testpaths")
    options["pythonpath"] = ["."]
    lines = ["[pytest]"]
    for key, value in options.items():
        rendered = "\n  ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{key} =\n  {rendered}" if isinstance(value, list) else f"{key} = {value}")
    (suite / "pytest.ini").write_text("\n".join(lines) + "\n")
    _check(run([str(installed.python), "-c", SPEC_SUITE_CHECK], suite, user_env()))
    argv = [str(installed.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = run([*argv, "tests/unit/common_schemas"], suite, user_env(), timeout=280)
    _check(done)
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed, done.stdout[-2000:]
    assert int(passed.group(1)) >= 20
    assert "skipped" not in done.stdout
