"""Provider selection TensorRT -> CUDA -> CPU, threads and batch-size choice."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from streams.anonymize.exceptions import ProviderError
from streams.anonymize.provider_options import process_environment
from streams.anonymize.providers import (
    InputShapes,
    choose_batch_size,
    select_providers,
    thread_config,
)
from streams.anonymize.runtime import ONNXOptimizer, apply_service_optimizations
from streams.settings import Settings

ALL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.fixture(autouse=True)
def no_thread_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """OMP_NUM_THREADS sets the threads per inference (an operator's override), and
    apply_service_optimizations writes it into os.environ: start every test without it."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


CPU = ["CPUExecutionProvider"]
CACHE = Path("engines")


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        ("auto", ALL, ("tensorrt", "cuda", "cpu")),
        ("auto", list(reversed(ALL)), ("tensorrt", "cuda", "cpu")),
        ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], ("cuda", "cpu")),
        ("auto", CPU, ("cpu",)),
        ("cuda,cpu", ALL, ("cuda", "cpu")),
        ("CPU", ALL, ("cpu",)),
        ("tensorrt, cuda, cpu", CPU, ("cpu",)),
        ("cpu,cuda", ALL, ("cpu", "cuda")),
    ],
)
def test_providers_follow_preference_availability_and_config(
    requested: str, available: list[str], expected: tuple[str, ...]
) -> None:
    assert select_providers(requested, available, engine_cache=CACHE).short_names == expected


def test_tensorrt_runs_fp16_with_an_engine_cache_and_a_shape_profile() -> None:
    plan = select_providers("auto", ALL, engine_cache=CACHE, shapes=InputShapes("input.1", 8, 640))
    name, options = plan.providers[0]
    assert name == "TensorrtExecutionProvider"
    assert options["trt_fp16_enable"] == "True"
    assert options["trt_engine_cache_enable"] == "True"
    assert options["trt_engine_cache_path"] == "engines"
    assert options["trt_profile_max_shapes"] == "input.1:8x3x640x640"
    assert plan.gpu


@pytest.mark.parametrize("requested", ["tensorrt", "cuda,tensorrt"])
def test_an_explicit_gpu_request_without_a_gpu_is_an_error(requested: str) -> None:
    with pytest.raises(ProviderError) as caught:
        select_providers(requested, CPU, engine_cache=CACHE)
    assert caught.value.reason == "no_provider"


def test_unknown_provider_names_are_an_error() -> None:
    with pytest.raises(ProviderError):
        select_providers("tpu,cpu", ALL, engine_cache=CACHE)


def test_optimizer_without_gpu_keeps_models_on_cpu_even_if_gpu_providers_exist(
    tmp_path: Path,
) -> None:
    settings = Settings(models_dir=tmp_path, worker_pool_size=2)
    cpu = ONNXOptimizer(False, settings, available=ALL, cpu_count=8)
    gpu = ONNXOptimizer(True, settings, available=ALL, cpu_count=8)

    assert cpu.get_providers("centerface") == [("CPUExecutionProvider", {})]
    assert cpu.get_device_config("centerface")["device"] == "cpu"
    assert cpu.get_device_config("centerface")["intra_op_num_threads"] == 4
    config = gpu.get_device_config("clp_det")
    assert config["device"] == "gpu"
    assert config["providers"] == ["tensorrt", "cuda", "cpu"]
    assert config["fp16"] is True
    assert config["intra_op_num_threads"] == 1
    engine_path = dict(gpu.get_providers("centerface"))["TensorrtExecutionProvider"]
    assert engine_path["trt_engine_cache_path"] == str(tmp_path / "trt-engines")


def test_threads_split_cpus_between_pool_workers() -> None:
    assert thread_config(0, 2, 8, gpu=False).intra_op == 4
    assert thread_config(0, 16, 8, gpu=False).intra_op == 1
    assert thread_config(3, 2, 8, gpu=False).intra_op == 3
    env = process_environment(thread_config(0, 1, 4, gpu=False).intra_op, False, {})
    assert env == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "1"}


def test_service_optimizations_keep_an_operators_override(tmp_path: Path) -> None:
    env = {"OMP_NUM_THREADS": "7"}
    threads = apply_service_optimizations(
        "frames", Settings(models_dir=tmp_path, inference_threads=2), environ=env
    )
    assert threads.intra_op == 2
    assert env["OMP_NUM_THREADS"] == "7"
    assert env["OPENBLAS_NUM_THREADS"] == "1"


@pytest.mark.parametrize(
    ("latency", "budget", "expected"),
    [
        ({1: 10.0, 2: 20.0, 4: 40.0}, 100.0, 1),  # CPU: no gain from batching
        ({1: 10.0, 2: 12.0, 4: 15.0, 8: 28.0}, 100.0, 8),  # GPU: throughput grows
        ({1: 10.0, 2: 12.0, 4: 15.0, 8: 28.0}, 20.0, 4),  # the budget caps latency
        ({1: 50.0, 2: 60.0}, 10.0, 1),  # nothing fits: the smallest batch
        ({}, 10.0, 1),
    ],
)
def test_batch_size_is_chosen_from_measured_latency(
    latency: dict[int, float], budget: float, expected: int
) -> None:
    assert choose_batch_size(latency, budget) == expected


@pytest.mark.parametrize(
    ("requested", "gpu", "face", "plate"),
    [
        ("auto", False, "int8", "fp32"),  # int8 only where a static int8 copy exists
        ("auto", True, "fp32", "fp32"),  # a GPU runs fp32 (fp16 under TensorRT)
        ("fp32", False, "fp32", "fp32"),
        ("int8", True, "int8", "fp32"),
    ],
)
def test_face_precision_follows_settings_and_device(
    tmp_path: Path, requested: str, gpu: bool, face: str, plate: str
) -> None:
    settings = Settings(models_dir=tmp_path, face_precision=requested)
    optimizer = ONNXOptimizer(gpu, settings, available=ALL, cpu_count=2)

    assert optimizer.get_device_config("centerface")["precision"] == face
    assert optimizer.get_device_config("clp_det")["precision"] == plate


def test_tensorrt_profile_of_a_channels_last_input() -> None:
    shapes = InputShapes("input.1", 4, 640, channels_last=True)
    assert shapes.profile()["trt_profile_min_shapes"] == "input.1:1x32x32x3"
    assert shapes.profile()["trt_profile_max_shapes"] == "input.1:4x640x640x3"


def test_pooled_sessions_do_not_spin_idle_threads(tmp_path: Path) -> None:
    def spinning(pool: int) -> str | None:
        settings = Settings(models_dir=tmp_path, worker_pool_size=pool, inference_threads=2)
        options = ONNXOptimizer(False, settings, available=CPU, cpu_count=2).session_options(
            "centerface"
        )
        try:
            return str(options.get_session_config_entry("session.intra_op.allow_spinning"))
        except RuntimeError:  # not set: onnxruntime's default (spin)
            return None

    assert spinning(2) == "0"
    assert spinning(1) is None


@pytest.mark.parametrize("model", ["yolo", "reid", "fusion-head"])
def test_any_model_name_gets_the_device_defaults(tmp_path: Path, model: str) -> None:
    settings = Settings(models_dir=tmp_path, worker_pool_size=2, batch_max_frames=8)
    cpu = ONNXOptimizer(False, settings, available=ALL, cpu_count=8)
    gpu = ONNXOptimizer(True, settings, available=ALL, cpu_count=8)

    assert cpu.get_providers(model) == [("CPUExecutionProvider", {})]
    assert cpu.get_device_config(model) == {
        "model": model,
        "device": "cpu",
        "providers": ["cpu"],
        "precision": "fp32",
        "fp16": False,
        "batch_size": 1,
        "detection_max_side": settings.detection_max_side,
        "intra_op_num_threads": 4,
        "inter_op_num_threads": 1,
    }
    names = [name for name, _ in gpu.get_providers(model)]
    assert names == ALL
    trt = dict(gpu.get_providers(model))["TensorrtExecutionProvider"]
    assert "trt_profile_max_shapes" not in trt  # no fixed input known: TensorRT's own profile
    assert gpu.get_device_config(model)["batch_size"] == 8


def test_a_declared_gpu_plans_tensorrt_and_cuda_before_cpu(tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path)
    assert [n for n, _ in ONNXOptimizer(True, settings).get_providers("reid")] == ALL
    assert ONNXOptimizer(False, settings).get_providers("reid") == [("CPUExecutionProvider", {})]
    only_cpu = Settings(models_dir=tmp_path, providers="cpu")
    assert ONNXOptimizer(True, only_cpu).get_device_config("yolo")["device"] == "cpu"


def test_service_optimizations_set_the_thread_environment_and_opencv(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    before = cv2.getNumThreads()
    try:
        threads = apply_service_optimizations(
            "fusion", Settings(models_dir=tmp_path, inference_threads=3), environ=env
        )
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)
    assert (threads.intra_op, threads.inter_op) == (3, 1)
    assert env == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}


def test_the_specifications_gpu_variables_and_memory_limit_reach_the_session_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORT_TENSORRT_FP16_ENABLE", "0")
    monkeypatch.setenv("ORT_TENSORRT_ENGINE_CACHE_ENABLE", "0")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    settings = Settings(models_dir=tmp_path, gpu_mem_limit_mb=512, worker_pool_size=1)
    optimizer = ONNXOptimizer(gpu_available=True, settings=settings)
    options = dict(optimizer.get_providers("centerface"))
    trt, cuda = options["TensorrtExecutionProvider"], options["CUDAExecutionProvider"]
    assert trt["trt_fp16_enable"] == "False"
    assert trt["trt_engine_cache_enable"] == "False"
    assert "trt_engine_cache_path" not in trt
    assert trt["trt_max_workspace_size"] == str(512 * 1024 * 1024)
    assert cuda["gpu_mem_limit"] == str(512 * 1024 * 1024)
    assert ONNXOptimizer(False, settings).threads("centerface").intra_op == 3
