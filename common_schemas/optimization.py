"""``apply_service_optimizations``, ``get_optimizer`` and ``ONNXOptimizer`` of the specification.

::

    apply_service_optimizations("fusion")
    get_optimizer().get_device_config("yolo")
    ONNXOptimizer(gpu_available=True).get_providers("reid")

camguard's own (:mod:`streams.anonymize.runtime`), re-exported unchanged:

- ``apply_service_optimizations(service)`` sets the process's thread budget before the first
  inference: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` (one inference's intra-op threads) and
  ``OPENBLAS_NUM_THREADS=1`` where the environment does not set them already, and OpenCV's
  thread count; it returns the :class:`~streams.anonymize.providers.ThreadConfig` that every
  onnxruntime session then gets (intra/inter-op threads, no idle spinning in a pool).
- ``get_optimizer()`` is the process's optimizer, planned from the providers onnxruntime
  offers; ``get_device_config(model)`` says device, providers, precision, batch size and
  threads for any model name (camguard's own models get their TensorRT shape profile and int8
  copy; another name, such as ``"yolo"``, the same device defaults in fp32).
- ``ONNXOptimizer(gpu_available=True).get_providers(model)`` is onnxruntime's ``providers=``
  list, TensorRT (fp16, engine cache) then CUDA then CPU; ``CAMGUARD_PROVIDERS`` narrows it.
  A session falls back down the list when a provider cannot start.
"""

from __future__ import annotations

from streams.anonymize.providers import ThreadConfig
from streams.anonymize.runtime import ONNXOptimizer, apply_service_optimizations, get_optimizer

__all__ = ["ONNXOptimizer", "ThreadConfig", "apply_service_optimizations", "get_optimizer"]
