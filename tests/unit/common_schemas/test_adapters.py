"""The signature adapters: the breaker config's names and the FastAPI error answers."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from fastapi import FastAPI

from common_schemas import CircuitBreakerConfig, QueueFullError, install_exception_handlers
from streams.policy.exceptions import InvalidPolicyConfigError
from streams.resilience import breaker


def test_breaker_config_takes_recovery_timeout_and_every_camguard_field() -> None:
    config = CircuitBreakerConfig(recovery_timeout=5.0, jitter_ratio=0.0, backoff_multiplier=3.0)
    assert isinstance(config, breaker.CircuitBreakerConfig)
    assert (config.recovery_timeout_s, config.recovery_timeout) == (5.0, 5.0)
    assert (config.jitter_ratio, config.backoff_multiplier) == (0.0, 3.0)
    assert CircuitBreakerConfig(recovery_timeout_s=7.0).recovery_timeout == 7.0
    copied = dataclasses.replace(config, failure_threshold=2)
    assert (copied.failure_threshold, copied.recovery_timeout) == (2, 5.0)
    with pytest.raises(TypeError, match="not both"):
        CircuitBreakerConfig(recovery_timeout=1.0, recovery_timeout_s=2.0)
    with pytest.raises(ValueError, match="recovery_timeout_s"):
        CircuitBreakerConfig(recovery_timeout=0.0)


async def test_camguard_errors_answer_their_status_and_retry_after() -> None:
    app = FastAPI()
    install_exception_handlers(app)

    @app.get("/full")
    async def full() -> None:
        raise QueueFullError("events", "queue_full", retry_after=0.2)

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidPolicyConfigError("antitheft: shelf_out_delta: must be a number")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        answer = await http.get("/full")
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
        answer = await http.get("/invalid")
        assert answer.status_code == 422
        assert "retry-after" not in answer.headers
        assert answer.json()["error"] == "invalid_config"
