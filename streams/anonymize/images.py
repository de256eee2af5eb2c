"""Image bytes in and out, refusing bad input before it costs memory.

:func:`read_header` parses a JPEG's SOF segment or a PNG's IHDR chunk, so the pixel limit and
the producer's declared size are checked from a few header bytes, before any decoding. Errors
are :class:`~streams.anonymize.exceptions.ImageError` subclasses with a ``reason``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from streams.anonymize.exceptions import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    SizeMismatchError,
    UnsupportedImageError,
)
from streams.anonymize.geometry import Image

Encoding = Literal["JPEG", "PNG"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an encoded image declares."""

    encoding: Encoding
    width: int
    height: int
    channels: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _jpeg_header(data: bytes) -> ImageHeader:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise CorruptImageError(f"JPEG: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise CorruptImageError(f"JPEG: segment length {length} at byte {pos}")
        if marker in _SOF_MARKERS:
            if pos + 10 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            if width == 0 or height == 0:
                raise UnsupportedImageError("JPEG: zero or DNL-deferred frame size")
            return ImageHeader("JPEG", width, height, data[pos + 9])
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise CorruptImageError("JPEG: no frame header (SOF) found")


def _png_header(data: bytes) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise CorruptImageError("PNG: missing IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None or width == 0 or height == 0:
        raise CorruptImageError(f"PNG: invalid IHDR (colour type {colour}, {width}x{height})")
    if depth not in (1, 2, 4, 8, 16):
        raise CorruptImageError(f"PNG: invalid bit depth {depth}")
    return ImageHeader("PNG", width, height, channels)


def _png_chunks_fit(data: bytes) -> None:
    """Refuse a chunk whose declared length runs past the bytes: OpenCV's PNG reader allocates
    (and zeroes) the declared length before reading, so 100 bytes could claim 2 GiB."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if pos + 12 + length > len(data):
            kind = data[pos + 4 : pos + 8].decode("latin-1")
            raise CorruptImageError(f"PNG: chunk {kind!r} of {length} bytes runs past the end")
        if data[pos + 4 : pos + 8] == b"IEND":
            return
        pos += 12 + length


def read_header(data: bytes) -> ImageHeader:
    """The encoding and declared size of ``data``, from its header only."""
    if not data:
        raise EmptyImageError("no image bytes")
    if data[:2] == b"\xff\xd8":
        return _jpeg_header(data)
    if data[:8] == PNG_SIGNATURE:
        return _png_header(data)
    raise CorruptImageError(f"neither JPEG nor PNG (starts with {data[:4].hex()})")


def check_header(
    data: bytes,
    max_pixels: int,
    declared: tuple[int, int] | None = None,
    expected: Encoding | None = None,
) -> ImageHeader:
    """Refuse ``data`` whose header is bad, too large, or not what the producer declared.

    ``declared`` is the producer's ``(width, height)``; ``expected`` its declared encoding.
    """
    header = read_header(data)
    if header.pixels > max_pixels:
        raise DecompressionBombError(
            f"{header.width}x{header.height} = {header.pixels} pixels > limit {max_pixels}"
        )
    if expected is not None and header.encoding != expected:
        raise CorruptImageError(f"declared {expected} but the bytes are {header.encoding}")
    if declared is not None and declared != (header.width, header.height):
        raise SizeMismatchError(
            f"declared {declared[0]}x{declared[1]}, image is {header.width}x{header.height}"
        )
    if header.encoding == "JPEG" and not data[-1024:].rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise CorruptImageError("JPEG: truncated (no end-of-image marker)")
    if header.encoding == "PNG":
        _png_chunks_fit(data)
    return header


def decode(
    data: bytes,
    max_pixels: int,
    declared: tuple[int, int] | None = None,
    expected: Encoding | None = None,
) -> tuple[Image, ImageHeader]:
    """Checked decode to a BGR uint8 frame (grayscale and alpha are converted to BGR)."""
    header = check_header(data, max_pixels, declared, expected)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CorruptImageError(f"{header.encoding}: the image data does not decode")
    if image.shape[:2] != (header.height, header.width):
        raise CorruptImageError(f"decoded {image.shape[1]}x{image.shape[0]} != header size")
    return np.asarray(image, dtype=np.uint8), header


def encode(image: Image, encoding: Encoding, jpeg_quality: int = 90) -> bytes:
    """Encode a frame (BGR, BGRA or grayscale uint8) as JPEG or PNG."""
    if encoding == "PNG":
        ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise UnsupportedImageError(f"cannot encode a {image.shape} {image.dtype} image")
    return bytes(buffer.tobytes())


def as_bgr(image: Image) -> Image:
    """A 3-channel view/copy of a frame for the detectors; refuses layouts they cannot take."""
    if image.dtype != np.uint8:
        raise UnsupportedImageError(f"pixels of type {image.dtype}, expected uint8")
    if image.size == 0:
        raise EmptyImageError("image has no pixels")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    raise UnsupportedImageError(f"image of shape {image.shape}: expected 1, 3 or 4 channels")
