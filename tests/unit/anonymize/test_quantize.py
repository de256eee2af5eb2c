"""Static int8 quantization: pinned calibration files, fp32 nodes kept, same bytes every time."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from streams.anonymize.calibration import (
    CALIBRATION_HW,
    CANVAS_HW,
    SKIMAGE_DATA,
    calibration_files,
    calibration_images,
    network_input,
)
from streams.anonymize.exceptions import ModelIntegrityError
from streams.anonymize.quantize import kept_fp32, quantize_int8

NOT_INSTALLED = replace(SKIMAGE_DATA, import_name="camguard_no_such_package")


def _tiny_detector() -> onnx.ModelProto:
    """conv 3->8 (reads the image), conv 8->8 + relu (the body), conv 8->1 + sigmoid (a head)."""
    rng = np.random.default_rng(0)

    def weight(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.1, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input.1", "w0"], ["a"], pads=[1, 1, 1, 1], name="stem"),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1, 1, 1, 1], name="body"),
        helper.make_node("Relu", ["b"], ["c"], name="body_relu"),
        helper.make_node("Conv", ["c", "w2"], ["d"], name="head"),
        helper.make_node("Sigmoid", ["d"], ["537"], name="head_sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [helper.make_tensor_value_info("537", TensorProto.FLOAT, ["B", 1, "H", "W"])],
        initializer=[
            weight("w0", (8, 3, 3, 3)),
            weight("w1", (8, 8, 3, 3)),
            weight("w2", (1, 8, 1, 1)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    return model


def _blobs(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.uniform(0, 255, (1, 3, 32, 48)).astype(np.float32) for _ in range(count)]


def _run(model: bytes, blob: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input.1": blob})
    return np.asarray(out)


def test_the_stem_and_the_heads_stay_fp32() -> None:
    assert kept_fp32(_tiny_detector()) == ["stem", "head_sigmoid", "head"]


def test_quantized_model_is_int8_close_to_fp32_and_the_same_bytes_every_time(
    tmp_path: Path,
) -> None:
    model = _tiny_detector()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = quantize_int8(model, "input.1", _blobs(4), tmp_path / "a")
    second = quantize_int8(model, "input.1", _blobs(4), tmp_path / "b")

    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    ops = {node.op_type for node in onnx.load_from_string(first).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    blob = _blobs(5)[-1]  # not seen in calibration
    expected = _run(model.SerializeToString(), blob)
    assert np.abs(_run(first, blob) - expected).max() < 0.05


def _wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{SKIMAGE_DATA.data_dir}/{name}", data)
    return buffer.getvalue()


def _installed_files() -> dict[str, bytes]:
    pytest.importorskip("skimage")
    return calibration_files(SKIMAGE_DATA, _no_download, Path("unused"))


def _no_download(package: str, version: str, dest: Path) -> Path:
    raise AssertionError(f"{package}=={version} must not be downloaded")


def test_calibration_files_come_from_the_pinned_wheel_when_not_installed(
    tmp_path: Path,
) -> None:
    files = _installed_files()
    wheel = _wheel(files)
    pinned = replace(NOT_INSTALLED, wheel_sha256=hashlib.sha256(wheel).hexdigest())
    fetched: list[str] = []

    def fetch(package: str, version: str, dest: Path) -> Path:
        fetched.append(f"{package}=={version}")
        path = dest / SKIMAGE_DATA.wheel
        path.write_bytes(wheel)
        return path

    assert calibration_files(pinned, fetch, tmp_path) == files
    assert fetched == ["scikit-image==0.26.0"]


def test_a_wheel_or_member_that_differs_from_its_pin_is_refused(tmp_path: Path) -> None:
    files = _installed_files()
    tampered = _wheel({**files, "camera.png": files["camera.png"] + b"x"})

    def fetch(package: str, version: str, dest: Path) -> Path:
        path = dest / SKIMAGE_DATA.wheel
        path.write_bytes(tampered)
        return path

    with pytest.raises(ModelIntegrityError):
        calibration_files(NOT_INSTALLED, fetch, tmp_path)  # wheel sha differs
    pinned = replace(NOT_INSTALLED, wheel_sha256=hashlib.sha256(tampered).hexdigest())
    with pytest.raises(ModelIntegrityError):
        calibration_files(pinned, fetch, tmp_path)  # camera.png differs


def test_calibration_images_are_fixed_frames_with_faces_and_a_padded_network_input() -> None:
    images = calibration_images(_installed_files())
    again = calibration_images(_installed_files())

    assert len(images) == 10
    assert all(image.shape == (*CALIBRATION_HW, 3) for image in images)
    assert all((a == b).all() for a, b in zip(images, again, strict=True))
    blob = network_input(images[0])
    assert blob.shape == (1, 3, *CANVAS_HW)
    assert blob.dtype == np.float32
    assert (blob[0, 0, : CALIBRATION_HW[0]] == images[0][..., 2]).all()  # RGB order
    assert (blob[0, :, CALIBRATION_HW[0] :] == 0).all()  # padding
