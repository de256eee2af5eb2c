"""A tiny real ONNX model that fails inside onnxruntime on some input shapes.

It has CenterFace's derived interface (uint8 BGR ``[B, H, W, 3]`` in; heatmap, scale and offset
at stride 4 out) and finds nothing, but its heatmap is added to a constant of shape
``[1, 1, GOOD_CANVAS[0] // 4, GOOD_CANVAS[1] // 4]``: on any other canvas, at any batch size,
onnxruntime itself raises
(``RuntimeException`` / ``InvalidArgument`` from ``onnxruntime_pybind11_state``, which derive
from ``Exception``, not ``RuntimeError``). Tests use it to drive the fail-closed paths with the
real library's real errors.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from streams.anonymize import centerface

GOOD_CANVAS = (384, 640)  # 720p and 1080p frames at max_side 640
BAD_FRAME = (480, 640)  # canvas 480 x 640: the Reshape cannot hold it


def failing_centerface_model() -> bytes:
    h, w = GOOD_CANVAS[0] // 4, GOOD_CANVAS[1] // 4
    heat, scale, offset = centerface.OUTPUT_NAMES
    nodes = [
        helper.make_node("Cast", [centerface.INPUT_NAME], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Mul", ["pooled", "zero"], ["zeros3"]),
        helper.make_node("ReduceMax", ["zeros3", "axis1"], ["zeros1"], keepdims=1),
        # the shape-dependent failure: only a GOOD_CANVAS heatmap broadcasts with [1, 1, h, w]
        # (whatever the batch size: a Reshape to [-1, h, w] would fit some batches of others)
        helper.make_node("Add", ["zeros1", "fixed"], [heat]),
        helper.make_node("Concat", ["zeros1", "zeros1"], [scale], axis=1),
        helper.make_node("Concat", ["zeros1", "zeros1"], [offset], axis=1),
    ]
    initializers = [
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        numpy_helper.from_array(np.asarray([1], np.int64), "axis1"),
        numpy_helper.from_array(np.zeros((1, 1, h, w), np.float32), "fixed"),
    ]
    dims: list[int | str] = ["B", "H", "W", 3]
    graph = helper.make_graph(
        nodes,
        "failing_centerface",
        [helper.make_tensor_value_info(centerface.INPUT_NAME, TensorProto.UINT8, dims)],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", c, "h", "w"])
            for name, c in ((heat, 1), (scale, 2), (offset, 2))
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def failing_session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the test expects the error; keep stderr quiet
    return ort.InferenceSession(
        failing_centerface_model(), sess_options=options, providers=["CPUExecutionProvider"]
    )
