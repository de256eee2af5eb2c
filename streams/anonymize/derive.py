"""Graph rewrites applied to a pinned model at fetch time (the weights are never changed).

- :func:`dynamicize`: fixed input/output dims to symbolic ones (CenterFace ships ``[10, 3, 32,
  32]``);
- :func:`drop_initializer_inputs`: weights that an old exporter also listed as graph inputs are
  no longer inputs, so onnxruntime may fold and fuse them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

from streams.anonymize.exceptions import ModelIntegrityError

if TYPE_CHECKING:
    from streams.anonymize.models import ModelSpec


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
