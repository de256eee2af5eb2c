"""The specification's environment variables and the GPU memory limit, as provider options."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.anonymize.provider_options import (
    DEFAULT_CUDA_CACHE_MAXSIZE,
    GpuOptions,
    ProviderOptionError,
    cuda_options,
    gpu_options,
    inference_threads,
    process_environment,
    provider_options,
    tensorrt_options,
)
from streams.settings import Settings

CACHE = Path("engines")


def test_defaults_keep_tensorrt_fp16_with_engine_and_timing_caches() -> None:
    assert tensorrt_options(gpu_options({}), CACHE) == {
        "device_id": "0",
        "trt_fp16_enable": "True",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": "engines",
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": "engines",
    }
    assert cuda_options(gpu_options({})) == {
        "device_id": "0",
        "cudnn_conv_algo_search": "HEURISTIC",
    }


@pytest.mark.parametrize(
    ("value", "fp16"),
    [("1", True), ("0", False), ("false", False), ("TRUE", True), (" off ", False), ("", True)],
)
def test_ort_tensorrt_fp16_enable_sets_trt_fp16(value: str, fp16: bool) -> None:
    options = tensorrt_options(gpu_options({"ORT_TENSORRT_FP16_ENABLE": value}), CACHE)
    assert options["trt_fp16_enable"] == str(fp16)


def test_engine_cache_off_writes_no_engine_or_timing_cache() -> None:
    gpu = gpu_options({"ORT_TENSORRT_ENGINE_CACHE_ENABLE": "0"})
    options = tensorrt_options(gpu, CACHE)
    assert options["trt_engine_cache_enable"] == "False"
    assert not {"trt_engine_cache_path", "trt_timing_cache_enable"} & options.keys()


def test_gpu_memory_limit_caps_cuda_arena_and_tensorrt_workspace() -> None:
    gpu = gpu_options({}, gpu_mem_limit_mb=2048)
    assert cuda_options(gpu)["gpu_mem_limit"] == str(2048 * 1024 * 1024)
    assert cuda_options(gpu)["arena_extend_strategy"] == "kSameAsRequested"
    assert tensorrt_options(gpu, CACHE)["trt_max_workspace_size"] == str(2048 * 1024 * 1024)


def test_gpu_memory_limit_comes_from_the_camguard_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMGUARD_GPU_MEM_LIMIT_MB", "512")
    assert Settings().gpu_mem_limit_mb == 512
    assert Settings.model_fields["gpu_mem_limit_mb"].default == 0  # no cap unless asked


@pytest.mark.parametrize(
    ("name", "expected"),
    [("tensorrt", "trt_fp16_enable"), ("cuda", "cudnn_conv_algo_search"), ("cpu", None)],
)
def test_provider_options_by_short_name(name: str, expected: str | None) -> None:
    options = provider_options(name, GpuOptions(device_id=1), CACHE)
    assert (expected in options) if expected else options == {}
    assert options.get("device_id", "1") == "1"


@pytest.mark.parametrize(
    "environ",
    [{"ORT_TENSORRT_FP16_ENABLE": "maybe"}, {"ORT_TENSORRT_ENGINE_CACHE_ENABLE": "2"}],
)
def test_a_flag_that_means_nothing_is_refused_with_its_name(environ: dict[str, str]) -> None:
    with pytest.raises(ProviderOptionError, match=next(iter(environ))):
        gpu_options(environ)


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        (3, {"OMP_NUM_THREADS": "8"}, 3),  # CAMGUARD_INFERENCE_THREADS wins
        (0, {"OMP_NUM_THREADS": "4"}, 4),  # the specification's OMP_NUM_THREADS
        (0, {}, 0),  # neither: the caller divides the CPUs
        (0, {"OMP_NUM_THREADS": " "}, 0),
    ],
)
def test_inference_threads(configured: int, environ: dict[str, str], expected: int) -> None:
    assert inference_threads(configured, environ) == expected


@pytest.mark.parametrize("value", ["0", "-2", "four"])
def test_omp_num_threads_must_be_a_positive_count(value: str) -> None:
    with pytest.raises(ProviderOptionError, match="OMP_NUM_THREADS"):
        inference_threads(0, {"OMP_NUM_THREADS": value})


def test_process_environment_fills_only_what_the_operator_left_unset() -> None:
    environ = {"OPENBLAS_NUM_THREADS": "4", "CUDA_CACHE_MAXSIZE": "1073741824"}
    assert process_environment(2, gpu=True, environ=environ) == {
        "OMP_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
    }
    assert process_environment(1, gpu=True, environ={})["CUDA_CACHE_MAXSIZE"] == str(
        DEFAULT_CUDA_CACHE_MAXSIZE
    )
    assert process_environment(1, gpu=False, environ={}) == {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
