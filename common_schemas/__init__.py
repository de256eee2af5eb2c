"""The ``common_schemas`` API of the platform specification, served by camguard.

A thin compatibility layer: every name here re-exports or adapts a camguard implementation so
that services written against ``common_schemas`` run by changing nothing but the install. The
adapters only translate signatures; the work is done by camguard (see common_schemas/README.md
for each call and the camguard API behind it):

- :mod:`common_schemas.queue`: ``ResilienceQueue``, ``QueueConfig`` (streams.spool)
- :mod:`common_schemas.resilience`: ``CircuitBreaker``, ``CircuitBreakerConfig``,
  ``ResilienceManager``, ``CircuitOpenError`` (streams.resilience)
- :mod:`common_schemas.health`: ``CameraHealthMonitor`` (streams.store's health publisher)
- :mod:`common_schemas.policy`: ``PolicyManager`` and the typed policies (streams.policy)
- :mod:`common_schemas.web`: ``install_exception_handlers`` for FastAPI (503 + Retry-After);
  exported only where FastAPI (Starlette) is installed
- :mod:`common_schemas.anonymization`: ``AnonymizationMiddleware``, ``BlurConfig``
- :mod:`common_schemas.optimization`: ``apply_service_optimizations``, ``get_optimizer``,
  ``ONNXOptimizer``
- :mod:`common_schemas.contracts`: ``export_service_contracts``

Importing this package reads no environment and connects to nothing; configuration
(``CAMGUARD_*``) is read when an object is built.
"""

import contextlib

from common_schemas.anonymization import AnonymizationMiddleware, BlurConfig
from common_schemas.contracts import export_service_contracts
from common_schemas.health import CameraHealthMonitor
from common_schemas.optimization import ONNXOptimizer, apply_service_optimizations, get_optimizer
from common_schemas.policy import (
    AntitheftPolicy,
    HealthPolicy,
    PolicyManager,
    PrivacyPolicy,
    ResiliencePolicy,
)
from common_schemas.queue import QueueConfig, ResilienceQueue
from common_schemas.resilience import (
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitOpenError,
    ResilienceManager,
)
from streams.spool.config import AckMode, Backpressure
from streams.spool.exceptions import QueueFullError

# Without Starlette (FastAPI) there is no web app to serve, so no handlers to export.
with contextlib.suppress(ImportError):
    from common_schemas.web import camguard_error_handler, install_exception_handlers

__all__ = [
    "AckMode",
    "AnonymizationMiddleware",
    "AntitheftPolicy",
    "Backpressure",
    "BlurConfig",
    "CameraHealthMonitor",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitOpenError",
    "HealthPolicy",
    "ONNXOptimizer",
    "PolicyManager",
    "PrivacyPolicy",
    "QueueConfig",
    "QueueFullError",
    "ResilienceManager",
    "ResiliencePolicy",
    "ResilienceQueue",
    "apply_service_optimizations",
    "camguard_error_handler",
    "export_service_contracts",
    "get_optimizer",
    "install_exception_handlers",
]
