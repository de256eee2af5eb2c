"""The uint8 BGR input adapter: the derived model sees the frame, the network sees RGB floats."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from streams.anonymize.derive import bgr_uint8_input
from streams.anonymize.exceptions import ModelIntegrityError


def _model(reader: str = "Conv") -> onnx.ModelProto:
    weight = np.random.default_rng(0).normal(0, 0.1, (4, 3, 3, 3)).astype(np.float32)
    node = (
        helper.make_node("Conv", ["input.1", "w"], ["out"], pads=[1, 1, 1, 1])
        if reader == "Conv"
        else helper.make_node("Relu", ["input.1"], ["out"])
    )
    graph = helper.make_graph(
        [node],
        "rgb_float",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, feed: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input.1": feed})
    return np.asarray(out)


def test_adapted_model_on_bgr_frames_matches_the_original_on_rgb_floats() -> None:
    frames = np.random.default_rng(1).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    rgb_nchw = frames[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)

    adapted = bgr_uint8_input(_model(), "input.1")

    (value,) = adapted.graph.input
    assert value.type.tensor_type.elem_type == TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
    assert dims == ["B", "H", "W", 3]
    np.testing.assert_allclose(_run(adapted, frames), _run(_model(), rgb_nchw), atol=1e-4)


def test_an_input_read_by_anything_but_convolutions_is_refused() -> None:
    with pytest.raises(ModelIntegrityError):
        bgr_uint8_input(_model("Relu"), "input.1")
    with pytest.raises(ModelIntegrityError):
        bgr_uint8_input(_model(), "image")
