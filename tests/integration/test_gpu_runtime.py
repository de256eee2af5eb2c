"""GPU smoke test: with camguard[gpu] on a CUDA host, sessions start on the GPU provider.

Skipped where onnxruntime offers no CUDA provider or no NVIDIA device exists (a skip is not a
pass: run it on a GPU host, ``pytest -m gpu``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from streams.anonymize.provider_options import MIB, cuda_options, gpu_options
from streams.anonymize.runtime import ONNXOptimizer
from streams.settings import Settings

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _cuda_host() -> bool:
    offered = "CUDAExecutionProvider" in ort.get_available_providers()
    device = Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None
    return offered and device


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _cuda_host(), reason="no CUDA device or onnxruntime-gpu"),
]


@pytest.fixture
def plus_one(tmp_path: Path) -> Path:
    """A one-node model, y = x + 1 on float32[1, 4]."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "plus_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "plus_one.onnx"
    onnx.save(model, str(path))
    return path


def test_the_worker_s_session_runs_first_on_a_gpu_provider(plus_one: Path, tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path, providers="auto")
    optimizer = ONNXOptimizer(True, settings, available=ort.get_available_providers())
    session = optimizer.create_session("plus_one", plus_one)
    assert session.get_providers()[0] in GPU_PROVIDERS
    (y,) = session.run(None, {"x": np.zeros((1, 4), dtype=np.float32)})
    assert y.tolist() == [[1.0, 1.0, 1.0, 1.0]]


def test_the_gpu_memory_limit_reaches_the_cuda_provider(plus_one: Path) -> None:
    options = cuda_options(gpu_options({}, gpu_mem_limit_mb=256))
    session = ort.InferenceSession(
        str(plus_one), providers=[("CUDAExecutionProvider", options), "CPUExecutionProvider"]
    )
    assert session.get_providers()[0] == "CUDAExecutionProvider"
    applied = session.get_provider_options()["CUDAExecutionProvider"]
    assert applied["gpu_mem_limit"] == str(256 * MIB)
    assert applied["arena_extend_strategy"] == "kSameAsRequested"
