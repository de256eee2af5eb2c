"""Exactly one ONNX Runtime package: ``camguard[cpu]`` (onnxruntime) or ``camguard[gpu]``.

``onnxruntime`` and ``onnxruntime-gpu`` install the same ``onnxruntime`` module over each other:
with both installed, whichever was installed last wins and a GPU host may silently run on CPU;
with neither, the worker would die on an ``ImportError`` deep inside a Faust agent.
:func:`check_runtime` runs at the start of every command that infers (before anything imports
``onnxruntime``) and says what to install instead. :func:`runtime_problem` is the pure decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata, util

from streams.anonymize.exceptions import ProviderError

# Distributions that provide the ``onnxruntime`` module (the first two are camguard's extras).
RUNTIME_DISTRIBUTIONS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-openvino",
    "onnxruntime-directml",
)
INSTALL_HINT = "pip install 'camguard[cpu]' (CPU) or 'camguard[gpu]' (CUDA 12 + cuDNN 9 host)"


class RuntimeMissingError(ProviderError):
    """No ONNX Runtime is installed, or its module cannot be imported.

    Install exactly one: ``pip install 'camguard[cpu]'`` or ``pip install 'camguard[gpu]'``. If
    a package is listed as installed but does not import, a second runtime was uninstalled over
    it: ``pip install --force-reinstall`` the one you want.
    """

    reason = "onnxruntime_missing"


class RuntimeConflictError(ProviderError):
    """Two ONNX Runtime packages are installed and overwrite each other's ``onnxruntime``.

    Remove all of them and install one extra: ``pip uninstall -y onnxruntime onnxruntime-gpu``
    then ``pip install 'camguard[gpu]'`` (or ``[cpu]``).
    """

    reason = "onnxruntime_conflict"


def runtime_problem(installed: Mapping[str, str], importable: bool) -> ProviderError | None:
    """What is wrong with the ONNX Runtime install, or None.

    ``installed`` maps each :data:`RUNTIME_DISTRIBUTIONS` name present to its version;
    ``importable`` says whether the ``onnxruntime`` module is found. A module found without a
    known distribution (a source build) is accepted.
    """
    if len(installed) > 1:
        listed = ", ".join(f"{name} {version}" for name, version in sorted(installed.items()))
        return RuntimeConflictError(
            f"several ONNX Runtime packages are installed ({listed}); they overwrite each "
            "other's onnxruntime module. Run: pip uninstall -y "
            + " ".join(sorted(installed))
            + f", then {INSTALL_HINT}"
        )
    if not importable:
        found = "".join(
            f" ({name} {version} is listed but broken)" for name, version in installed.items()
        )
        return RuntimeMissingError(f"no ONNX Runtime is installed{found}: {INSTALL_HINT}")
    return None


def installed_runtimes(
    version: Callable[[str], str] = metadata.version,
) -> dict[str, str]:
    """The :data:`RUNTIME_DISTRIBUTIONS` present in this environment, with their versions."""
    found: dict[str, str] = {}
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            found[name] = version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def check_runtime() -> str:
    """Raise :class:`RuntimeMissingError` / :class:`RuntimeConflictError`, else describe the
    runtime in use (``"onnxruntime-gpu 1.22.0"``). Does not import onnxruntime."""
    installed = installed_runtimes()
    problem = runtime_problem(installed, util.find_spec("onnxruntime") is not None)
    if problem is not None:
        raise problem
    return " ".join(next(iter(installed.items()), ("onnxruntime", "(source build)")))
