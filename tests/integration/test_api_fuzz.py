"""schemathesis against the worker's and the gateway's own GET /openapi.json, as users run them.

Each server is a real process (``camguard worker`` on the session's broker, ``camguard
gateway``); the schema is loaded from the server itself, so a document that promises a page the
server does not answer, a method it answers with 404 instead of 405, a 500, or a body that does
not match its schema fails here. Every built-in check runs (not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, positive_data_acceptance, negative_data_rejection,
missing_required_header, unsupported_method, ...).

schemathesis runs as ``schemathesis run`` does (its engine: examples, coverage and fuzzing
phases), from Python so the servers are this session's. POST /webhooks/supabase is signed by a
``before_call`` hook (:class:`WebhookSigner`: HMAC over the exact bytes sent), so fuzzing
reaches the payload parser, the policy book and the producer instead of stopping at 401. Rows
are kept to this run's own ``service_name``, which only this run's worker applies: workers of
later tests on the session broker never see a fuzzed policy of theirs.

Bounded for CI: a fixed seed, deterministic generation and ``MAX_EXAMPLES`` per operation and
phase; ``CAMGUARD_FUZZ_EXAMPLES`` raises it for a longer local run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import schemathesis.engine
from schemathesis import Case, HookContext
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from schemathesis.schemas import BaseSchema

from streams.devstack import REPO_ROOT, free_port
from streams.policy.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.integration.worker_process import Worker, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SECRET = b"api-fuzz-webhook-secret"
RUN = uuid.uuid4().hex[:8]
SERVICE = f"fuzz-{RUN}"
WEBHOOK = "/webhooks/supabase"
MAX_EXAMPLES = int(os.environ.get("CAMGUARD_FUZZ_EXAMPLES", "25"))


def served_schema(base_url: str) -> BaseSchema:
    """The server's own /openapi.json, every check on, a fixed seed, bounded and deterministic.

    Loaded as a document rather than from its URL: schemathesis leaves out the operation that
    served the schema it was given a URL for, and GET /openapi.json is one of ours.
    """
    document = httpx.get(f"{base_url}/openapi.json", timeout=30).raise_for_status().json()
    return schemathesis.openapi.from_dict(document, config=fuzz_config(base_url))


def fuzz_config(base_url: str) -> SchemathesisConfig:
    """Every check on, a fixed seed, bounded and deterministic generation."""
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url,
            "seed": 14,
            "cache": {"enabled": False},  # no crash store in the checkout: runs stay alike
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "operations": [
                {
                    # What JSON Schema cannot say, the document answers with 422: a config is
                    # valid or not for its policy_type's model (streams/policy/models.py); a
                    # timestamp must be text datetime.fromisoformat reads; a version must be an
                    # integer literal (JSON Schema's "integer" also admits 1.0).
                    "include-path": WEBHOOK,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "409", "422"]
                        }
                    },
                }
            ],
        }
    )


def own_service(body: bytes) -> bytes:
    """``body`` with every valid ``service_name`` of its rows replaced by this run's.

    Only a name that could be accepted is replaced (a non-empty string without ``/``, not
    ``*``), so a case stays as valid or invalid as schemathesis generated it.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    changed = False
    for name in ("record", "old_record"):
        row = payload.get(name)
        value = row.get("service_name") if isinstance(row, dict) else None
        acceptable = isinstance(value, str) and value not in ("", "*") and "/" not in value
        if isinstance(row, dict) and acceptable and value != SERVICE:
            row["service_name"], changed = SERVICE, True
    return json.dumps(payload).encode() if changed else body


class WebhookSigner(requests.auth.AuthBase):
    """The request hook for POST /webhooks/supabase: keeps accepted rows to this run's service
    (:func:`own_service`), then signs the bytes actually sent the way streams/policy/webhook.py
    verifies them (HMAC-SHA256 of ``timestamp + "." + body``), so fuzzing gets past 401."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if (request.path_url or "").split("?")[0] != WEBHOOK:
            return request
        body = request.body or b""
        sent = body.encode() if isinstance(body, str) else body
        raw = own_service(sent)
        if raw != sent:
            request.prepare_body(raw, None)
        stamp = str(int(time.time()))
        request.headers[TIMESTAMP_HEADER] = stamp
        request.headers[SIGNATURE_HEADER] = sign(self.secret, stamp, raw)
        return request


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers 200 (the process must stay up)."""
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"exited {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise AssertionError(f"{url} not serving after 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    home = tmp_path_factory.mktemp("fuzz-worker")
    env = worker_env(
        kafka_bootstrap,
        app_id=f"api-fuzz-{RUN}",
        service_name=SERVICE,
        consumer_auto_offset_reset="latest",
        store="memory://",
        webhook_secret=SECRET.decode(),
        models_dir=str(home / "no-models"),  # no detector: the pages, not the pixels
    )
    process = Worker(env, home / "data", home / "worker.log")
    try:
        wait_until_serving(f"{process.url}/readyz", process.proc, process.log)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def gateway_url(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("fuzz-gateway")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "CAMGUARD_BROKER": f"kafka://{kafka_bootstrap}",
        "CAMGUARD_SPOOL_DIR": str(home / "spool"),
        "CAMGUARD_GATEWAY_PORT": str(port),
    }
    argv = [sys.executable, "-m", "streams.cli", "gateway", "--camera-id", SERVICE, "--fps", "1"]
    log = home / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(f"{url}/healthz", process, log)
            yield url
        finally:
            process.terminate()
            process.wait(30)


def test_each_server_documents_only_its_own_pages(worker: Worker, gateway_url: str) -> None:
    worker_paths = set(httpx.get(f"{worker.url}/openapi.json").json()["paths"])
    gateway_paths = set(httpx.get(f"{gateway_url}/openapi.json").json()["paths"])
    assert "/queue/stats" not in worker_paths
    assert gateway_paths == {"/healthz", "/metrics", "/openapi.json", "/queue/stats"}
    for path in ("/queue/stats", WEBHOOK):
        assert httpx.get(f"{worker.url}{path}").status_code in {404, 405}
    assert httpx.get(f"{worker.url}/queue/stats").status_code == 404
    assert httpx.get(f"{gateway_url}{WEBHOOK}").status_code == 404


def test_undeclared_methods_get_405_with_allow(worker: Worker, gateway_url: str) -> None:
    for url, allowed in (
        (f"{worker.url}/healthz", "GET"),
        (f"{worker.url}{WEBHOOK}", "POST"),
        (f"{gateway_url}/queue/stats", "GET"),
    ):
        answer = httpx.request("DELETE", url)
        assert answer.status_code == 405, (url, answer.status_code)
        assert allowed in answer.headers["allow"]


def test_a_signed_webhook_is_applied_past_authentication(worker: Worker) -> None:
    row = {"id": f"row-{RUN}", "service_name": "camguard", "policy_type": "fuzz_probe"}
    row |= {"version": 1, "config": {}, "org_id": None, "camera_id": None}
    payload = {"type": "INSERT", "table": "service_policies", "schema": "public", "record": row}
    request = requests.Request("POST", f"{worker.url}{WEBHOOK}", data=json.dumps(payload))
    prepared = WebhookSigner(SECRET)(request.prepare())
    answer = requests.Session().send(prepared, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["keys"] == [f"{SERVICE}/fuzz_probe/*/*"]  # never camguard's own
    unsigned = requests.post(f"{worker.url}{WEBHOOK}", data=json.dumps(payload), timeout=30)
    assert unsigned.status_code == 401


def sign_webhooks(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """schemathesis ``before_call`` hook: every request goes out through :class:`WebhookSigner`."""
    kwargs["auth"] = WebhookSigner(SECRET)


@dataclass
class FuzzRun:
    """What one schemathesis run did, by operation label (``GET /healthz``)."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    checks: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop_reason: str = ""

    def record(self, event: events.ScenarioFinished) -> None:
        label = event.label or f"({event.phase})"
        recorder = event.recorder
        self.cases[label] += len(recorder.cases)
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                self.statuses[label][interaction.response.status_code] += 1
        for checks in recorder.checks.values():
            for check in checks:
                self.checks[check.name] += 1
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(
                        f"{label} {check.name}: {failure.title}\n{failure.message}\n"
                        f"{check.failure_info.code_sample}"
                    )

    def report(self) -> str:
        lines = [
            f"{label}: {n} cases {dict(self.statuses[label])}" for label, n in self.cases.items()
        ]
        return "\n".join([*lines, *self.errors, *self.failures[:10]])


def fuzz(schema: BaseSchema) -> FuzzRun:
    """Run schemathesis's engine over ``schema``: every phase that applies, every check."""
    run = FuzzRun()
    schemathesis.hook("before_call")(sign_webhooks)
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                run.record(event)
            elif isinstance(event, events.NonFatalError):
                run.errors.append(f"{event.label}: {event.info.format()}")
            elif isinstance(event, events.FatalError):
                run.errors.append(f"fatal: {event.exception!r}")
            elif isinstance(event, events.EngineFinished):
                run.stop_reason = str(event.stop_reason)
    finally:
        schemathesis.hooks.unregister(sign_webhooks)
    return run


def test_worker_api_conforms_to_its_openapi(worker: Worker) -> None:
    schema = served_schema(worker.url)
    run = fuzz(schema)
    print(run.report())
    assert run.errors == []
    assert run.failures == [], "\n\n".join(run.failures)
    assert run.stop_reason == "completed"
    documented = {f"{m.upper()} {p}" for p, ops in schema.raw_schema["paths"].items() for m in ops}
    assert set(run.cases) - {"(stateful)"} == documented
    # Signed: fuzzed payloads reach the parser (422), the book (409) and the producer (200).
    assert {200, 422} <= set(run.statuses[f"POST {WEBHOOK}"])
    assert {"not_a_server_error", "response_schema_conformance", "unsupported_method"} <= set(
        run.checks
    )


def test_gateway_api_conforms_to_its_openapi(gateway_url: str) -> None:
    schema = served_schema(gateway_url)
    run = fuzz(schema)
    print(run.report())
    assert run.errors == []
    assert run.failures == [], "\n\n".join(run.failures)
    assert run.stop_reason == "completed"
    assert set(run.cases) == {
        "GET /healthz",
        "GET /metrics",
        "GET /openapi.json",
        "GET /queue/stats",
    }
