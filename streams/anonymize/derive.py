"""Graph rewrites applied to a pinned model at fetch time (the weights are never changed).

- :func:`dynamicize`: fixed input/output dims to symbolic ones (CenterFace ships ``[10, 3, 32,
  32]``);
- :func:`drop_initializer_inputs`: weights that an old exporter also listed as graph inputs are
  no longer inputs, so onnxruntime may fold and fuse them;
- :func:`bgr_uint8_input`: the input becomes the letterboxed frame itself (uint8 BGR
  ``[B, H, W, 3]``), converted inside the graph, so preprocessing is one resize into a canvas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.tools.update_model_dims import update_inputs_outputs_dims

from streams.anonymize.exceptions import ModelIntegrityError

if TYPE_CHECKING:
    from streams.anonymize.spec import ModelSpec


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


def bgr_uint8_input(model: onnx.ModelProto, input_name: str) -> onnx.ModelProto:
    """Make ``input_name`` (float RGB ``[B, 3, H, W]``) a uint8 BGR ``[B, H, W, 3]`` input.

    The graph gains ``Cast`` and ``Transpose`` in front (onnxruntime folds the transpose into its
    own layout change); the colour swap costs nothing: each convolution reading the input gets
    its weights' input channels reversed. Outputs are those of the original on the RGB image.
    """
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    inputs = [value for value in graph.input if value.name == input_name]
    readers = [node for node in graph.node if input_name in node.input]
    if not inputs or any(node.op_type != "Conv" for node in readers):
        raise ModelIntegrityError(f"{input_name!r} is not an input read only by convolutions")
    weights = {init.name: init for init in graph.initializer}
    for node in readers:
        flipped = numpy_helper.to_array(weights[node.input[1]])[:, ::-1]
        name = f"{node.input[1]}.bgr"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(flipped), name))
        node.input[1] = name
        node.input[0] = f"{input_name}.nchw"
    dims = [d.dim_param or d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    new_input = helper.make_tensor_value_info(
        input_name, TensorProto.UINT8, [dims[0], dims[2], dims[3], 3]
    )
    graph.input.remove(inputs[0])
    graph.input.insert(0, new_input)
    adapter = [
        helper.make_node(
            "Cast", [input_name], [f"{input_name}.float"], to=TensorProto.FLOAT, name="to_float"
        ),
        helper.make_node(
            "Transpose",
            [f"{input_name}.float"],
            [f"{input_name}.nchw"],
            perm=[0, 3, 1, 2],
            name="to_nchw",
        ),
    ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*adapter, *nodes])
    return result


def derive_runtime_model(
    model: onnx.ModelProto, spec: ModelSpec, adapt_input: bool = True
) -> onnx.ModelProto:
    """The model sessions load: dynamic dims, weights no longer posing as inputs, and (for
    specs with ``bgr_uint8_input``, unless ``adapt_input`` is false) the uint8 BGR input."""
    derived = drop_initializer_inputs(dynamicize(model, spec))
    if spec.bgr_uint8_input and adapt_input:
        derived = bgr_uint8_input(derived, spec.input_name)
    return derived
