from __future__ import annotations

import pytest

from streams.devstack import Backend, BackendChoice, choose_backend, docker_available


@pytest.mark.parametrize(
    ("env", "docker", "expected"),
    [
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:9092"}, True, BackendChoice(Backend.ENVIRONMENT, "k:9092")),
        (
            {"KAFKA_BOOTSTRAP_SERVERS": "k:9092"},
            False,
            BackendChoice(Backend.ENVIRONMENT, "k:9092"),
        ),
        ({"KAFKA_BOOTSTRAP_SERVERS": "  "}, True, BackendChoice(Backend.TESTCONTAINERS)),
        ({}, True, BackendChoice(Backend.TESTCONTAINERS)),
        ({}, False, BackendChoice(Backend.LOCAL)),
        ({"OTHER": "x"}, False, BackendChoice(Backend.LOCAL)),
    ],
)
def test_environment_wins_then_docker_then_local(
    env: dict[str, str], docker: bool, expected: BackendChoice
) -> None:
    assert choose_backend(env, "KAFKA_BOOTSTRAP_SERVERS", docker) == expected


def test_docker_socket_that_does_not_exist_is_not_available(tmp_path: object) -> None:
    assert docker_available({"DOCKER_HOST": "unix:///nonexistent/docker.sock"}) is False
