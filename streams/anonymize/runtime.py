"""ONNX Runtime adapter: sessions, detectors, threads and batch calibration.

The decisions are pure and live in :mod:`streams.anonymize.providers`; this module applies
them to onnxruntime. The seed's names are kept: :func:`apply_service_optimizations`,
:func:`get_optimizer` and :class:`ONNXOptimizer`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from streams.anonymize import detector as codecs
from streams.anonymize import yoloplates
from streams.anonymize.detector import ModelCodec, OnnxDetector, Tiling, UnionDetector
from streams.anonymize.exceptions import ProviderError
from streams.anonymize.model_registry import (
    CENTERFACE,
    CLP_DET,
    YOLOV8_PLATE,
    Precision,
    resolve_model,
)
from streams.anonymize.provider_options import gpu_options, inference_threads, process_environment
from streams.anonymize.providers import (
    ORT_NAMES,
    InputShapes,
    ProviderPlan,
    ThreadConfig,
    choose_batch_size,
    select_providers,
    thread_config,
)
from streams.anonymize.spec import ModelSpec
from streams.settings import Settings

log = logging.getLogger(__name__)

MODEL_CODECS: dict[str, tuple[ModelSpec, ModelCodec]] = {
    "centerface": (CENTERFACE, codecs.CENTERFACE),
    "clp_det": (CLP_DET, codecs.CLP_DET),
    "yolov8_plate": (YOLOV8_PLATE, yoloplates.codec()),
}
# CAMGUARD_PLATE_MODEL -> the plate models a worker loads
PLATE_MODELS: dict[str, tuple[str, ...]] = {
    "global": ("yolov8_plate",),
    "clp_det": ("clp_det",),
    "both": ("yolov8_plate", "clp_det"),
}


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


class ONNXOptimizer:
    """Provider and device decisions for each model (the seed's interface).

    ``gpu_available=False`` keeps every model on the CPU even where onnxruntime-gpu is
    installed. ``available`` is what onnxruntime offers (:func:`get_optimizer` passes
    ``onnxruntime.get_available_providers()``); without it the plan is for the declared
    device: TensorRT -> CUDA -> CPU with a GPU, CPU alone without (a session still falls back
    down the list, :meth:`create_session`).

    Any model name is planned: camguard's own (:data:`MODEL_CODECS`) get their TensorRT shape
    profile and int8 copy; another name (a service's ``"yolo"``, ``"reid"``) gets the same
    providers, threads and batch size, in fp32, without a fixed shape profile.
    """

    def __init__(
        self,
        gpu_available: bool,
        settings: Settings | None = None,
        available: Sequence[str] | None = None,
        cpu_count: int | None = None,
    ) -> None:
        self.settings = settings or Settings()
        offered = list(available) if available is not None else list(ORT_NAMES.values())
        if not gpu_available:
            offered = [p for p in offered if p == ORT_NAMES["cpu"]]
        self.available = offered
        self.cpu_count = cpu_count or os.cpu_count() or 1

    def plan(self, model: str) -> ProviderPlan:
        known = MODEL_CODECS.get(model)
        shapes = None
        if known is not None:
            spec, codec = known
            shapes = InputShapes(
                codec.input_name,
                self.settings.batch_max_frames,
                largest_input_side(self.settings, codec.kind),
                channels_last=spec.bgr_uint8_input,
            )
        return select_providers(
            self.settings.providers,
            self.available,
            engine_cache=self.settings.models_dir / "trt-engines",
            shapes=shapes,
            gpu=gpu_options(os.environ, self.settings.gpu_mem_limit_mb),
        )

    def get_providers(self, model: str) -> list[tuple[str, dict[str, str]]]:
        """onnxruntime's ``providers=`` argument for ``model``: ``(name, options)`` pairs in
        the order TensorRT, CUDA, CPU, as far as the device and ``CAMGUARD_PROVIDERS`` allow."""
        return list(self.plan(model).providers)

    def threads(self, model: str) -> ThreadConfig:
        return thread_config(
            inference_threads(self.settings.inference_threads, os.environ),
            self.settings.worker_pool_size,
            self.cpu_count,
            self.plan(model).gpu,
        )

    def precision(self, model: str) -> Precision:
        """Which copy of ``model`` to load: the static int8 one where the model has one and
        ``face_precision`` asks for it (``auto``: on CPU only; a GPU runs fp32, or fp16 under
        TensorRT), else fp32."""
        known = MODEL_CODECS.get(model)
        wanted = self.settings.face_precision
        if wanted == "auto":
            wanted = "fp32" if self.plan(model).gpu else "int8"
        return "int8" if known and known[0].int8 and wanted == "int8" else "fp32"

    def get_device_config(self, model: str) -> dict[str, Any]:
        """Device, providers, precision, batch and threads chosen for ``model`` (any name)."""
        plan, threads = self.plan(model), self.threads(model)
        known = MODEL_CODECS.get(model)
        return {
            "model": known[0].version_tag if known else model,
            "device": "gpu" if plan.gpu else "cpu",
            "providers": list(plan.short_names),
            "precision": self.precision(model),
            "fp16": plan.short_names[0] == "tensorrt",
            "batch_size": self.settings.batch_max_frames if plan.gpu else 1,
            "detection_max_side": self.settings.detection_max_side,
            "intra_op_num_threads": threads.intra_op,
            "inter_op_num_threads": threads.inter_op,
        }

    def session_options(self, model: str) -> ort.SessionOptions:
        threads = self.threads(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads.intra_op
        options.inter_op_num_threads = threads.inter_op
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads.pool_size > 1:
            # Several pool workers share the cores: an idle intra-op thread must sleep, not
            # spin (measured, 2 workers x 2 threads on 2 cores: 145 against 113 inferences/s).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    def create_session(self, model: str, path: Path) -> ort.InferenceSession:
        """A session on the first provider of the plan that starts; falls back down the list."""
        providers = self.get_providers(model)
        while providers:
            try:
                return ort.InferenceSession(
                    str(path), sess_options=self.session_options(model), providers=providers
                )
            except Exception as exc:  # onnxruntime's Fail, EPFail ... derive from Exception
                log.warning(
                    "%s: provider %s failed (%s), falling back", model, providers[0][0], exc
                )
                providers = providers[1:]
        raise ProviderError(f"{model}: no execution provider could start a session")


FULL_RESOLUTION_SIDE = 3840  # the largest side planned for when detection_max_side is 0


def tiling_for(settings: Settings, kind: str) -> Tiling | None:
    """The tiles ``kind``'s detector adds to the whole-frame pass, per the settings."""
    if not (settings.face_tiles if kind == "FACE" else settings.plate_tiles):
        return None
    return Tiling(side=settings.tile_side, scale=settings.tile_scale, overlap=settings.tile_overlap)


def largest_input_side(settings: Settings, kind: str) -> int:
    """The longest canvas side ``kind``'s detector may be given (TensorRT's profile)."""
    base = settings.detection_max_side or FULL_RESOLUTION_SIDE
    if tiling_for(settings, kind) is None:
        return base
    return max(base, settings.tile_side or FULL_RESOLUTION_SIDE)


_optimizers: dict[str, ONNXOptimizer] = {}
BATCH_LATENCY_BUDGET_MS = 200.0
CALIBRATION_FRAME = (720, 1280)


def get_optimizer(settings: Settings | None = None) -> ONNXOptimizer:
    """The process's optimizer, made on first use from the providers onnxruntime offers."""
    if "default" not in _optimizers or settings is not None:
        offered = available_providers()
        gpu = any(p in offered for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider"))
        _optimizers["default"] = ONNXOptimizer(gpu, settings, offered)
    return _optimizers["default"]


def apply_service_optimizations(
    service: str,
    settings: Settings | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> ThreadConfig:
    """Set the thread budget of a ``service`` process once, at its entry point.

    What it sets, for any service name (the name only labels the log line):

    - ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` to the intra-op threads of one inference
      (the CPUs divided by ``worker_pool_size`` on CPU, 1 on a GPU, or
      ``CAMGUARD_INFERENCE_THREADS``) and ``OPENBLAS_NUM_THREADS`` to 1, in ``environ``
      (``os.environ`` by default); values already there win (an operator's override);
    - OpenCV's thread pool (``cv2.setNumThreads``) to the same intra-op count;
    - the process's optimizer (:func:`get_optimizer`), whose ``session_options`` give every
      onnxruntime session these intra/inter-op counts.

    OpenMP/MKL read the environment when their pools start, so call this before the first
    inference. Returns the :class:`ThreadConfig` applied.
    """
    optimizer = get_optimizer(settings)
    threads = optimizer.threads("centerface")
    env = os.environ if environ is None else environ
    env.update(process_environment(threads.intra_op, optimizer.plan("centerface").gpu, env))
    cv2.setNumThreads(threads.intra_op)
    log.info("%s: %s, threads %s", service, optimizer.get_device_config("centerface"), threads)
    return threads


@dataclass
class DetectorSet:
    """The loaded detectors of a worker and what stats report about them."""

    face: OnnxDetector
    plate: OnnxDetector | UnionDetector
    provider: str
    versions: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, dict[int, float]] = field(default_factory=dict)

    def describe(self) -> str:
        """``centerface+clp_det@cpu``: the value of ``AnonymizedFrame.detector``."""
        return f"{self.face.name}+{self.plate.name}@{self.provider}"

    def stats(self) -> dict[str, Any]:
        return {
            "detector": self.describe(),
            "provider": self.provider,
            "models": dict(self.versions),
            "batch_size": {"face": self.face.max_batch, "plate": self.plate.max_batch},
            "batch_latency_ms": {
                name: {str(size): round(ms, 2) for size, ms in measured.items()}
                for name, measured in self.calibration.items()
            },
            "detection_max_side": self.face.max_side,
        }


def _short(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider").lower()


def load_detectors(
    settings: Settings,
    optimizer: ONNXOptimizer | None = None,
    calibrate: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> DetectorSet:
    """Sessions for both models from the verified cache (``camguard models fetch`` first).

    With ``calibrate`` on a GPU each detector is timed at batch sizes 1, 2, 4 ...
    ``batch_max_frames`` on a 720p frame and keeps the size with the best throughput within
    :data:`BATCH_LATENCY_BUDGET_MS` (this also builds TensorRT engines before traffic).
    """
    optimizer = optimizer or get_optimizer(settings)
    made: dict[str, OnnxDetector] = {}
    active: list[str] = []
    versions: dict[str, str] = {}
    for model in ("centerface", *PLATE_MODELS[settings.plate_model]):
        spec, codec = MODEL_CODECS[model]
        precision = optimizer.precision(model)
        path = resolve_model(spec, settings.models_dir, precision)
        session = optimizer.create_session(model, path)
        versions[model] = spec.version_tag + ("+int8" if precision == "int8" else "")
        active.append(_short(session.get_providers()[0]))
        made[model] = OnnxDetector(
            session=session,
            codec=codec,
            max_side=settings.detection_max_side,
            threshold=settings.face_score_threshold
            if codec.kind == "FACE"
            else settings.plate_score_threshold,
            max_batch=optimizer.get_device_config(model)["batch_size"],
            tiling=tiling_for(settings, codec.kind),
            upscale=settings.detection_upscale,
            coarse=settings.plate_coarse_pass if codec.kind == "PLATE" else 0.0,
        )
    plates = [made[m] for m in PLATE_MODELS[settings.plate_model]]
    loaded = DetectorSet(
        face=made["centerface"],
        plate=plates[0] if len(plates) == 1 else UnionDetector(tuple(plates)),
        provider="+".join(dict.fromkeys(active)),
        versions=versions,
    )
    if calibrate and optimizer.plan("centerface").gpu:
        # On CPU the batch is 1 (get_device_config: batching measured slower per frame), so
        # there is nothing to choose; timing 3 models x 4 sizes with tiles would only delay
        # start-up by tens of seconds.
        sizes = batch_sizes(settings.batch_max_frames)
        for detector in (loaded.face, *plates):
            loaded.calibration[detector.name] = calibrate_batch_size(
                detector, CALIBRATION_FRAME, sizes, BATCH_LATENCY_BUDGET_MS, clock
            )
        log.info("batch sizes from measured latency: %s", loaded.calibration)
    return loaded


def batch_sizes(largest: int) -> list[int]:
    """1, 2, 4 ... up to and including ``largest``."""
    sizes = [1]
    while sizes[-1] * 2 < largest:
        sizes.append(sizes[-1] * 2)
    return sorted({*sizes, max(1, largest)})


def calibrate_batch_size(
    detector: OnnxDetector,
    frame_hw: tuple[int, int],
    sizes: Sequence[int],
    budget_ms: float,
    clock: Callable[[], float] = time.perf_counter,
    repeats: int = 3,
) -> dict[int, float]:
    """Measure ``detector`` at each batch size (median of ``repeats``), set the best size.

    Returns the measured latencies in ms per batch size; ``detector.max_batch`` is updated.
    """
    frame = np.zeros((*frame_hw, 3), dtype=np.uint8)
    measured: dict[int, float] = {}
    for size in sizes:
        detector.max_batch = size
        samples = []
        for _ in range(repeats + 1):  # the first run warms up (allocations, TensorRT engines)
            start = clock()
            detector.detect([frame] * size)
            samples.append((clock() - start) * 1000.0)
        measured[size] = float(np.median(samples[1:]))
    detector.max_batch = choose_batch_size(measured, budget_ms)
    return measured
