"""Errors of the gateway package.

::

    CamguardError
    └── GatewayError
        └── SourceError      (a camera source could not be opened or read; retried)
"""

from __future__ import annotations

from streams.exceptions import CamguardError


class GatewayError(CamguardError):
    """Base class of the gateway's errors."""

    reason = "gateway_error"


class SourceError(GatewayError):
    """A camera source could not be opened or read.

    The gateway emits an ERROR event and retries with backoff; check the file path or the
    RTSP URL and that the camera is reachable.
    """

    retriable = True
    reason = "source_error"
