"""Bad input is refused with a typed error before it costs memory."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from streams.anonymize.exceptions import (
    CorruptImageError,
    DecompressionBombError,
    EmptyImageError,
    ImageError,
    SizeMismatchError,
    UnsupportedImageError,
)
from streams.anonymize.images import as_bgr, decode, encode, read_header


def _jpeg(h: int = 48, w: int = 64, channels: int = 3) -> bytes:
    image = np.random.default_rng(0).integers(
        0, 255, (h, w, channels)[: 2 if channels == 1 else 3], dtype=np.uint8
    )
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf.tobytes())


def _png_header_only(width: int, height: int, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 is rewritten to declare another size (a decompression bomb)."""
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_jpeg_and_png_headers_are_read_without_decoding() -> None:
    header = read_header(_jpeg(48, 64))
    assert (header.encoding, header.width, header.height, header.channels) == ("JPEG", 64, 48, 3)
    png = read_header(_png_header_only(640, 480, colour=6))
    assert (png.encoding, png.width, png.height, png.channels) == ("PNG", 640, 480, 4)


@pytest.mark.parametrize(
    "data",
    [
        _jpeg_declaring(60_000, 60_000),
        _png_header_only(100_000, 100_000),
    ],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes) -> None:
    with pytest.raises(DecompressionBombError) as caught:
        decode(data, max_pixels=40_000_000)
    assert caught.value.reason == "too_many_pixels"


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"", EmptyImageError, "empty_image"),
        (b"GIF89a....", CorruptImageError, "corrupt_image"),
        (_jpeg()[:200], CorruptImageError, "corrupt_image"),  # truncated
        (_jpeg()[:2] + b"\x00" * 50, CorruptImageError, "corrupt_image"),
        (_png_header_only(64, 48), CorruptImageError, "corrupt_image"),  # no pixel data
        (b"\x89PNG\r\n\x1a\n", CorruptImageError, "corrupt_image"),
    ],
)
def test_corrupt_and_empty_data_have_typed_errors(
    data: bytes, error: type[ImageError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        decode(data, max_pixels=40_000_000)
    assert caught.value.reason == reason


def test_corrupt_scan_data_after_a_valid_header_is_a_typed_error() -> None:
    data = bytearray(_jpeg())
    sos = data.index(b"\xff\xda")
    data[sos + 20 : -2] = b"\xff" * (len(data) - sos - 22)
    try:
        image, _ = decode(bytes(data), max_pixels=40_000_000)
    except CorruptImageError:
        return
    assert image.shape == (48, 64, 3)  # libjpeg may recover a (grey) image; never a crash


def test_declared_size_and_encoding_must_match_the_image() -> None:
    with pytest.raises(SizeMismatchError) as caught:
        decode(_jpeg(48, 64), 40_000_000, declared=(640, 480))
    assert caught.value.reason == "size_mismatch"
    with pytest.raises(CorruptImageError):
        decode(_jpeg(48, 64), 40_000_000, declared=(64, 48), expected="PNG")
    image, header = decode(_jpeg(48, 64), 40_000_000, declared=(64, 48), expected="JPEG")
    assert image.shape == (48, 64, 3)
    assert header.encoding == "JPEG"


def test_grayscale_and_alpha_images_decode_to_bgr() -> None:
    gray = _jpeg(channels=1)
    assert read_header(gray).channels == 1
    assert decode(gray, 40_000_000)[0].shape == (48, 64, 3)
    rgba = np.zeros((20, 30, 4), np.uint8)
    png = encode(rgba, "PNG")
    assert read_header(png).channels == 4
    assert decode(png, 40_000_000)[0].shape == (20, 30, 3)


@pytest.mark.parametrize(
    ("shape", "dtype", "ok"),
    [
        ((10, 10), np.uint8, True),
        ((10, 10, 1), np.uint8, True),
        ((10, 10, 3), np.uint8, True),
        ((10, 10, 4), np.uint8, True),
        ((10, 10, 2), np.uint8, False),
        ((10, 10, 3), np.float32, False),
        ((10, 10, 3), np.uint16, False),
    ],
)
def test_array_layouts(shape: tuple[int, ...], dtype: type, ok: bool) -> None:
    image = np.zeros(shape, dtype=dtype)
    if ok:
        assert as_bgr(image).shape == (10, 10, 3)  # type: ignore[arg-type]
    else:
        with pytest.raises(UnsupportedImageError):
            as_bgr(image)  # type: ignore[arg-type]


def test_empty_array_is_refused() -> None:
    with pytest.raises(EmptyImageError):
        as_bgr(np.zeros((0, 10, 3), np.uint8))
