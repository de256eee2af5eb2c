"""FastAPI (Starlette) exception handlers for camguard's errors: a refused call is a 503.

::

    app = FastAPI()
    install_exception_handlers(app)
    # or: app.add_exception_handler(CircuitOpenError, camguard_error_handler)

Every :class:`~streams.exceptions.CamguardError` answers its own ``status`` with
``{"error": reason, "detail": message}``; one that carries ``retry_after`` (a
:class:`~streams.resilience.exceptions.CircuitOpenError` from
``execute_with_circuit_breaker``: 503; a full queue) adds ``Retry-After`` in whole seconds,
rounded up. Needs FastAPI or Starlette installed (the specification's services have it).
"""

from __future__ import annotations

import math
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import HTTPExceptionHandler

from streams.exceptions import CamguardError


class ExceptionHandlingApp(Protocol):
    """A FastAPI or Starlette application."""

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: HTTPExceptionHandler
    ) -> None: ...


def retry_after_header(error: BaseException) -> str | None:
    """``Retry-After`` for ``error``'s ``retry_after`` seconds (at least 1), if it has one."""
    retry_after = getattr(error, "retry_after", None)
    if not isinstance(retry_after, int | float) or math.isnan(retry_after):
        return None
    return str(max(1, math.ceil(retry_after)))


async def camguard_error_handler(request: Request, exc: Exception) -> Response:
    """The JSON answer for a camguard error: its ``status``, ``reason`` and ``Retry-After``."""
    status = exc.status if isinstance(exc, CamguardError) else 500
    reason = exc.reason if isinstance(exc, CamguardError) else "error"
    retry = retry_after_header(exc)
    headers = {"Retry-After": retry} if retry is not None else None
    return JSONResponse({"error": reason, "detail": str(exc)}, status_code=status, headers=headers)


def install_exception_handlers(app: ExceptionHandlingApp) -> None:
    """Answer every :class:`CamguardError` raised by a route with :func:`camguard_error_handler`
    (a :class:`~streams.resilience.exceptions.CircuitOpenError` becomes 503 + ``Retry-After``)."""
    app.add_exception_handler(CamguardError, camguard_error_handler)
