"""Execution-provider, thread and batch-size decisions (pure; no onnxruntime import).

- :func:`select_providers`: TensorRT (fp16, engine cache) -> CUDA -> CPU, filtered by what the
  installed onnxruntime offers and by ``CAMGUARD_PROVIDERS`` (``auto`` or a comma list).
- :func:`thread_config`: intra/inter-op threads and the OMP/OpenBLAS/MKL environment, decided
  in this one place for every session and worker pool of a process.
- :func:`choose_batch_size`: the batch size with the best measured throughput within a latency
  budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.anonymize.exceptions import ProviderError
from streams.anonymize.provider_options import GpuOptions, ProviderOptions, provider_options

ORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
PREFERENCE = ("tensorrt", "cuda", "cpu")
DEFAULT_GPU = GpuOptions()  # fp16, engine cache on, no memory cap, device 0


@dataclass(frozen=True)
class ProviderPlan:
    """The ordered providers (onnxruntime names with their options) for one model."""

    providers: tuple[tuple[str, ProviderOptions], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.providers)

    @property
    def short_names(self) -> tuple[str, ...]:
        reverse = {v: k for k, v in ORT_NAMES.items()}
        return tuple(reverse.get(name, name) for name in self.names)

    @property
    def gpu(self) -> bool:
        return self.short_names[0] in ("tensorrt", "cuda")


@dataclass(frozen=True)
class InputShapes:
    """The input a TensorRT optimisation profile must cover for one model."""

    input_name: str
    max_batch: int
    max_side: int
    channels_last: bool = False  # [B, H, W, 3] instead of [B, 3, H, W]

    def profile(self) -> ProviderOptions:
        side = max(32, -(-self.max_side // 32) * 32)

        def shape(batch: int, size: int) -> str:
            dims = (batch, size, size, 3) if self.channels_last else (batch, 3, size, size)
            return f"{self.input_name}:{'x'.join(map(str, dims))}"

        return {
            "trt_profile_min_shapes": shape(1, 32),
            "trt_profile_opt_shapes": shape(self.max_batch, side),
            "trt_profile_max_shapes": shape(self.max_batch, side),
        }


def parse_requested(requested: str) -> tuple[str, ...]:
    """``auto`` or ``tensorrt,cuda,cpu`` (any order, case-insensitive) to short names."""
    text = requested.strip().lower()
    if text in ("", "auto"):
        return PREFERENCE
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in ORT_NAMES]
    if unknown:
        raise ProviderError(f"unknown providers {unknown}; known: {', '.join(PREFERENCE)}")
    return names


def select_providers(
    requested: str,
    available: Sequence[str],
    *,
    engine_cache: Path,
    shapes: InputShapes | None = None,
    gpu: GpuOptions = DEFAULT_GPU,
) -> ProviderPlan:
    """Order the requested providers that ``available`` offers, with their options.

    ``auto`` takes every offered provider in the order TensorRT, CUDA, CPU. An explicit list is
    kept in its order; if none of it is offered the configuration cannot be honoured and
    :class:`ProviderError` is raised rather than silently running on another device.
    """
    chosen = [name for name in parse_requested(requested) if ORT_NAMES[name] in available]
    if not chosen:
        raise ProviderError(f"none of {requested!r} is available; onnxruntime offers {available}")
    providers: list[tuple[str, ProviderOptions]] = []
    for name in chosen:
        options: ProviderOptions = provider_options(name, gpu, engine_cache)
        if name == "tensorrt" and shapes is not None:
            options.update(shapes.profile())
        providers.append((ORT_NAMES[name], options))
    return ProviderPlan(tuple(providers))


@dataclass(frozen=True)
class ThreadConfig:
    """Threads of one process: per session and per worker pool (the libraries' environment
    variables follow from it: :func:`streams.anonymize.provider_options.process_environment`)."""

    intra_op: int
    inter_op: int
    pool_size: int


def thread_config(
    inference_threads: int, pool_size: int, cpu_count: int, gpu: bool
) -> ThreadConfig:
    """Split the CPUs between ``pool_size`` concurrent inferences.

    ``inference_threads`` > 0 is taken as is; 0 means: the CPUs divided by the pool size on
    CPU, and 1 thread per session on a GPU provider (the CPU only feeds it).
    """
    if inference_threads > 0:
        intra = inference_threads
    elif gpu:
        intra = 1
    else:
        intra = max(1, cpu_count // max(1, pool_size))
    return ThreadConfig(intra_op=intra, inter_op=1, pool_size=max(1, pool_size))


def choose_batch_size(
    latency_ms: Mapping[int, float], budget_ms: float, min_gain: float = 0.05
) -> int:
    """The batch size with the best throughput whose latency fits ``budget_ms``.

    A larger batch must beat the best smaller one's frames/s by ``min_gain`` (5 %): on a CPU,
    where batching rarely helps, this keeps latency low.
    """
    if not latency_ms:
        return 1
    best, best_fps = min(latency_ms), 0.0
    for size in sorted(latency_ms):
        latency = latency_ms[size]
        if latency <= 0 or (latency > budget_ms and size != min(latency_ms)):
            continue
        fps = size / latency
        if best_fps == 0.0 or fps > best_fps * (1 + min_gain):
            best, best_fps = size, fps
    return best
