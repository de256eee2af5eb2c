"""Static int8 quantization of CenterFace, calibrated at fetch time on pinned images.

``camguard models fetch`` derives ``centerface-….int8.onnx`` from the fp32 model with
onnxruntime's ``quantize_static``: QDQ format, uint8 activations, int8 weights per output
channel, MinMax ranges over :mod:`streams.anonymize.calibration`'s images. The first convolution
(it reads the 0-255 image; as int8 it is slower than as fp32) and the output heads (box sizes
and offsets lose precision in 8 bits) stay fp32. The same inputs with the same onnxruntime give
the same bytes; the manifest records their sha256 and every load checks it.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from streams.anonymize.calibration import (
    SKIMAGE_DATA,
    calibration_files,
    calibration_images,
    network_input,
)
from streams.anonymize.derive import bgr_uint8_input, derive_runtime_model
from streams.anonymize.geometry import FloatArray
from streams.anonymize.wheels import Downloader, sha256_file, write_atomic

if TYPE_CHECKING:
    from streams.anonymize.spec import ModelSpec

# Bump when the recipe or the calibration set changes so older int8 caches are re-derived.
RECIPE = "qdq-u8s8-per-channel-minmax+fp32-first-conv-and-heads+skimage-0.26.0/1"


class _Reader(CalibrationDataReader):  # type: ignore[misc]
    def __init__(self, input_name: str, blobs: Sequence[FloatArray]) -> None:
        self._feeds = iter([{input_name: blob} for blob in blobs])

    def get_next(self) -> dict[str, FloatArray] | None:
        return next(self._feeds, None)


def kept_fp32(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes left in fp32: those reading a graph input, and each output head
    (the nodes from a graph output back to, and including, the convolution that feeds it)."""
    inputs = {value.name for value in model.graph.input}
    producers = {out: node for node in model.graph.node for out in node.output}
    kept = [node.name for node in model.graph.node if inputs.intersection(node.input)]
    for output in model.graph.output:
        node = producers.get(output.name)
        while node is not None:
            kept.append(node.name)
            if node.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul") or not node.input:
                break
            node = producers.get(node.input[0])
    return list(dict.fromkeys(kept))


def quantize_int8(
    model: onnx.ModelProto, input_name: str, blobs: Sequence[FloatArray], workdir: Path
) -> bytes:
    """The static int8 QDQ model of ``model`` (fp32), calibrated on ``blobs``."""
    if model.opset_import[0].version < 13:  # per-channel QDQ needs opset 13
        model = version_converter.convert_version(model, 13)
    source, prepared, target = (workdir / n for n in ("fp32.onnx", "prep.onnx", "int8.onnx"))
    onnx.save(model, str(source))
    ort.set_default_logger_severity(3)
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    named = onnx.load(str(prepared))
    for index, node in enumerate(named.graph.node):
        node.name = node.name or f"{node.op_type}_{index}"
    onnx.save(named, str(prepared))
    quantize_static(
        str(prepared),
        str(target),
        _Reader(input_name, blobs),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=kept_fp32(named),
    )
    return target.read_bytes()


def is_int8_cached(spec: ModelSpec, models_dir: Path, entry: dict[str, str]) -> bool:
    path = models_dir / spec.int8_file
    if entry.get("int8_recipe") != RECIPE or not path.is_file():
        return False
    return entry.get("int8_sha256") == sha256_file(path)


def write_int8_copy(spec: ModelSpec, models_dir: Path, fetch: Downloader) -> dict[str, str]:
    """Write the int8 copy of ``spec``'s model (quantized before its input is adapted, so the
    calibration feeds the network's own float input); returns its manifest fields."""
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".quantize-") as tmp:
        images = calibration_images(calibration_files(SKIMAGE_DATA, fetch, Path(tmp)))
        fp32 = derive_runtime_model(
            onnx.load(str(models_dir / spec.original_file)), spec, adapt_input=False
        )
        data = quantize_int8(fp32, spec.input_name, [network_input(i) for i in images], Path(tmp))
    if spec.bgr_uint8_input:
        data = bgr_uint8_input(onnx.load_from_string(data), spec.input_name).SerializeToString()
    write_atomic(models_dir / spec.int8_file, data)
    return {
        "int8_file": spec.int8_file,
        "int8_sha256": hashlib.sha256(data).hexdigest(),
        "int8_recipe": RECIPE,
        "int8_calibration": f"{SKIMAGE_DATA.tag} data files, pins sha256 {SKIMAGE_DATA.digest()}",
    }
