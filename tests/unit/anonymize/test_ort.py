"""One ONNX Runtime package, or a start-up error that says what to install."""

from __future__ import annotations

from importlib import metadata

import pytest

from streams.anonymize.ort import (
    RuntimeConflictError,
    RuntimeMissingError,
    check_runtime,
    installed_runtimes,
    runtime_problem,
)


@pytest.mark.parametrize(
    ("installed", "importable"),
    [({"onnxruntime": "1.22.0"}, True), ({"onnxruntime-gpu": "1.22.0"}, True), ({}, True)],
)
def test_one_runtime_or_a_source_build_is_fine(installed: dict[str, str], importable: bool) -> None:
    assert runtime_problem(installed, importable) is None


def test_no_runtime_says_which_extra_to_install() -> None:
    problem = runtime_problem({}, importable=False)
    assert isinstance(problem, RuntimeMissingError)
    assert "camguard[cpu]" in str(problem)
    assert "camguard[gpu]" in str(problem)


def test_a_listed_runtime_that_does_not_import_is_called_broken() -> None:
    problem = runtime_problem({"onnxruntime-gpu": "1.22.0"}, importable=False)
    assert isinstance(problem, RuntimeMissingError)
    assert "onnxruntime-gpu 1.22.0 is listed but broken" in str(problem)


def test_cpu_and_gpu_packages_together_are_refused_with_the_fix() -> None:
    problem = runtime_problem({"onnxruntime": "1.22.0", "onnxruntime-gpu": "1.22.0"}, True)
    assert isinstance(problem, RuntimeConflictError)
    assert problem.reason == "onnxruntime_conflict"
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in str(problem)


def test_installed_runtimes_reads_distribution_versions() -> None:
    def version(name: str) -> str:
        if name == "onnxruntime-gpu":
            return "1.22.0"
        raise metadata.PackageNotFoundError(name)

    assert installed_runtimes(version) == {"onnxruntime-gpu": "1.22.0"}


def test_this_environment_has_exactly_one_runtime() -> None:
    # make installs .[dev,cpu]; a GPU host .[dev,gpu]
    assert check_runtime().split()[0] in ("onnxruntime", "onnxruntime-gpu")
