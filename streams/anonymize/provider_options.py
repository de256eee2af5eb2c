"""GPU provider options and the process environment, from settings and environment variables.

Pure: the environment is passed in as a mapping. Where each variable of the specification takes
effect:

================================================  ===========================================
``ORT_TENSORRT_FP16_ENABLE`` (1/0, default 1)      TensorRT ``trt_fp16_enable``
``ORT_TENSORRT_ENGINE_CACHE_ENABLE`` (1/0, def. 1)  TensorRT ``trt_engine_cache_enable`` and the
                                                  timing cache (0: nothing written to disk)
``CAMGUARD_GPU_MEM_LIMIT_MB`` (0 = no cap)         CUDA ``gpu_mem_limit`` (arena grows only as
                                                  requested), TensorRT ``trt_max_workspace_size``
``CUDA_CACHE_MAXSIZE`` (bytes)                     read by the CUDA driver from the environment;
                                                  :func:`process_environment` sets 2 GiB where unset
``OMP_NUM_THREADS``                                intra-op threads of one inference when
                                                  ``CAMGUARD_INFERENCE_THREADS`` is 0
``OPENBLAS_NUM_THREADS``                           kept as given (OpenBLAS reads it when numpy
                                                  loads); 1 where unset
================================================  ===========================================

onnxruntime reads its own ``ORT_TENSORRT_*`` variables only for a TensorRT provider created
without options; camguard always passes options, so the variables are translated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.anonymize.exceptions import ProviderError

ProviderOptions = dict[str, str]
MIB = 1024 * 1024
DEFAULT_CUDA_CACHE_MAXSIZE = 2 * 1024 * MIB  # CUDA's JIT cache; the driver allows up to 4 GiB
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ProviderOptionError(ProviderError):
    """An environment variable that configures the inference runtime has a value it cannot
    mean. Fix or unset the variable named in the message (flags take 1/0, true/false)."""

    reason = "provider_option_invalid"


@dataclass(frozen=True)
class GpuOptions:
    """What the operator asks of the GPU providers."""

    fp16: bool = True
    engine_cache: bool = True
    gpu_mem_limit_mb: int = 0  # 0: no cap
    device_id: int = 0


def env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """``environ[name]`` as a boolean (1/0, true/false, yes/no, on/off); unset or empty: default."""
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ProviderOptionError(f"{name}={environ[name]!r} is not a flag: use 1 or 0")


def env_count(environ: Mapping[str, str], name: str) -> int | None:
    """``environ[name]`` as a positive integer; unset or empty: None."""
    value = environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ProviderOptionError(f"{name}={environ[name]!r} must be a positive integer")
    return int(value)


def gpu_options(
    environ: Mapping[str, str], gpu_mem_limit_mb: int = 0, device_id: int = 0
) -> GpuOptions:
    """The GPU options of the ``ORT_TENSORRT_*`` variables and the memory-limit setting."""
    return GpuOptions(
        fp16=env_flag(environ, "ORT_TENSORRT_FP16_ENABLE", True),
        engine_cache=env_flag(environ, "ORT_TENSORRT_ENGINE_CACHE_ENABLE", True),
        gpu_mem_limit_mb=gpu_mem_limit_mb,
        device_id=device_id,
    )


def tensorrt_options(gpu: GpuOptions, engine_cache_dir: Path) -> ProviderOptions:
    """TensorRT's options (a shape profile, where a model has one, is added by the caller)."""
    options = {
        "device_id": str(gpu.device_id),
        "trt_fp16_enable": str(gpu.fp16),
        "trt_engine_cache_enable": str(gpu.engine_cache),
    }
    if gpu.engine_cache:
        options |= {
            "trt_engine_cache_path": str(engine_cache_dir),
            "trt_timing_cache_enable": "True",
            "trt_timing_cache_path": str(engine_cache_dir),
        }
    if gpu.gpu_mem_limit_mb > 0:
        options["trt_max_workspace_size"] = str(gpu.gpu_mem_limit_mb * MIB)
    return options


def cuda_options(gpu: GpuOptions) -> ProviderOptions:
    """CUDA's options; with a memory cap the arena grows by what is requested, not by doubling
    (doubling would stop well below the cap)."""
    options = {"device_id": str(gpu.device_id), "cudnn_conv_algo_search": "HEURISTIC"}
    if gpu.gpu_mem_limit_mb > 0:
        options["gpu_mem_limit"] = str(gpu.gpu_mem_limit_mb * MIB)
        options["arena_extend_strategy"] = "kSameAsRequested"
    return options


def provider_options(short_name: str, gpu: GpuOptions, engine_cache_dir: Path) -> ProviderOptions:
    """Options of one provider by its short name (``tensorrt``, ``cuda``, ``cpu``)."""
    if short_name == "tensorrt":
        return tensorrt_options(gpu, engine_cache_dir)
    if short_name == "cuda":
        return cuda_options(gpu)
    return {}


def inference_threads(configured: int, environ: Mapping[str, str]) -> int:
    """Intra-op threads asked for: ``CAMGUARD_INFERENCE_THREADS`` (``configured``) when > 0,
    else ``OMP_NUM_THREADS``, else 0 (the caller divides the CPUs)."""
    if configured > 0:
        return configured
    return env_count(environ, "OMP_NUM_THREADS") or 0


def process_environment(intra_op: int, gpu: bool, environ: Mapping[str, str]) -> dict[str, str]:
    """Variables to add to the environment before the first inference: thread counts of the
    OpenMP/MKL/OpenBLAS pools and, on a GPU, CUDA's JIT cache size. A variable already set is
    the operator's and is never returned."""
    wanted = {
        "OMP_NUM_THREADS": str(intra_op),
        "MKL_NUM_THREADS": str(intra_op),
        "OPENBLAS_NUM_THREADS": "1",  # ORT does the work; BLAS stays single-threaded
    }
    if gpu:
        wanted["CUDA_CACHE_MAXSIZE"] = str(DEFAULT_CUDA_CACHE_MAXSIZE)
    return {name: value for name, value in wanted.items() if not environ.get(name, "").strip()}
