"""``AnonymizationMiddleware`` and ``BlurConfig`` of the specification.

::

    middleware = AnonymizationMiddleware()
    config = BlurConfig(face_blur_enabled=True, license_plate_blur_enabled=True,
                        blur_strength=0.8)
    blurred = await middleware.process_frame(frame, config)        # numpy BGR uint8 in and out
    image_b64 = await middleware.process_image_b64(image_b64, config)  # base64 JPEG/PNG

Both names are camguard's own (:mod:`streams.anonymize.middleware`,
:mod:`streams.anonymize.blur`), re-exported unchanged: ``process_frame`` returns the anonymized
copy (same shape and dtype) and ``process_image_b64`` a base64 string in the input's encoding,
as the specification says. The rich results (boxes, counts, ``fail_closed``) are
``anonymize_frame`` and ``anonymize_image_b64``.

Models load on the first call, in the middleware's thread pool, from ``CAMGUARD_MODELS_DIR``
(``camguard models fetch`` fills it); a missing model raises
:class:`~streams.anonymize.exceptions.ModelMissingError`. Inference and JPEG coding run in the
pool, never on the event loop. Fail closed: when detection fails the frame comes back blurred
whole (``BlurConfig.fail_closed``, on by default), or the call raises (``fail_closed=False`` or
``fail_closed_action="drop"``); the input frame is never returned unanonymized.
"""

from __future__ import annotations

from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import AnonymizeError, ModelMissingError
from streams.anonymize.middleware import AnonymizationMiddleware, ImageResult

__all__ = [
    "AnonymizationMiddleware",
    "AnonymizeError",
    "BlurConfig",
    "ImageResult",
    "ModelMissingError",
]
