"""The compose file an operator deploys: every camguard service hardened, every setting real.

No Docker daemon runs here, so the file is checked as data (tests/e2e/test_bubblewrap.py runs
the same constraints for real under bubblewrap).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "infra" / "docker" / "compose.yaml"
DOCKERFILES = [
    ROOT / "infra" / "docker" / "Dockerfile",
    ROOT / "infra" / "docker" / "Dockerfile.gpu",
]
KAFKA_POM = ROOT / "infra" / "kafka" / "pom.xml"


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())  # SafeLoader resolves the `<<` merge keys
    assert isinstance(loaded, dict)
    return loaded


def _camguard_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return {
        name: svc
        for name, svc in services.items()
        if str(svc.get("image", "")).startswith("camguard")
    }


def test_the_stack_has_two_workers_a_gateway_kafka_and_postgres() -> None:
    services = _compose()["services"]
    commands = [svc.get("command", [None])[0] for svc in _camguard_services().values()]
    assert commands.count("worker") == 2
    assert commands.count("gateway") == 1
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")


def test_kafka_image_is_the_dev_broker_version() -> None:
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", KAFKA_POM.read_text())
    assert version is not None
    assert _compose()["services"]["kafka"]["image"] == f"apache/kafka:{version.group(1)}"


@pytest.mark.parametrize("name", sorted(_camguard_services()))
def test_every_camguard_service_carries_the_hardening(name: str) -> None:
    svc = _camguard_services()[name]
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert svc["cap_drop"] == ["ALL"]
    assert svc["read_only"] is True
    tmpfs = svc["tmpfs"]
    assert len(tmpfs) == 1
    path, options = tmpfs[0].split(":", 1)
    assert path == "/tmp"
    assert {"noexec", "nosuid", "size=500m"} <= set(options.split(","))
    uid = str(svc["user"]).split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0, "runs as a non-root uid"
    assert svc["restart"] in {"unless-stopped", "always", "on-failure"}
    assert svc["healthcheck"]["test"], "has a healthcheck"
    limits = svc["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0
    assert limits["memory"]
    assert svc.get("privileged") is not True
    for volume in svc.get("volumes", []):
        source = volume.split(":")[0]
        # named volumes only: no host path can be written by the container
        assert not source.startswith(("/", ".", "~")), volume
        assert source in _compose()["volumes"], volume


@pytest.mark.parametrize("name", sorted(_camguard_services()))
def test_every_camguard_variable_is_a_real_setting(name: str) -> None:
    fields = {f"CAMGUARD_{field.upper()}" for field in Settings.model_fields}
    env = _camguard_services()[name].get("environment", {})
    unknown = sorted(k for k in env if k.startswith("CAMGUARD_") and k not in fields)
    assert not unknown, f"{name} sets variables camguard does not read: {unknown}"


def test_the_image_runs_as_non_root_with_a_healthcheck() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        assert text.count("FROM ") >= 2, f"{dockerfile.name}: multi-stage"
        user = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
        assert user, dockerfile.name
        assert not user[-1].startswith(("0", "root")), dockerfile.name
        assert re.search(r"^HEALTHCHECK .*", text, flags=re.M), dockerfile.name
        assert "/healthz" in text
        assert "camguard models fetch" in text, "models are fetched at build time"
    assert "[${EXTRA},supabase]" in DOCKERFILES[0].read_text()
    assert "[gpu,supabase]" in DOCKERFILES[1].read_text()


def test_ports_are_published_on_loopback_only() -> None:
    for name, svc in _camguard_services().items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
