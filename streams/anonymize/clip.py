"""Video clips in and out with PyAV: every frame anonymized, frame count and frame rate kept.

Frames are decoded to BGR, anonymized in batches through the same :class:`Anonymizer` as
single frames, and re-encoded at the input's average frame rate (the input's codec when it can
be encoded, else H.264). Audio is not copied: it can identify people too. A frame that fails
closed with ``drop`` becomes a black frame so the clip keeps its length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from streams.anonymize.blur import BlurConfig
from streams.anonymize.exceptions import AnonymizeError, ClipError
from streams.anonymize.geometry import Detection, Image
from streams.anonymize.pipeline import Anonymizer, FrameOutcome

_FALLBACK_CODEC = "libx264"


@dataclass(frozen=True)
class ClipSummary:
    """What :func:`anonymize_clip` wrote."""

    frames: int
    fps: float
    width: int
    height: int
    faces: int
    plates: int
    fail_closed_frames: int
    codec: str
    held_boxes: int = 0  # regions blurred because a neighbouring frame's detector found them


def _output_codec(name: str) -> str:
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return _FALLBACK_CODEC
    return name


def _open_output(container: Any, codec: str, rate: Fraction, width: int, height: int) -> Any:
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    if codec == "libx264":
        stream.options = {"crf": "18", "preset": "veryfast"}
    return stream


class _Writer:
    def __init__(self, container: Any, stream: Any) -> None:
        self.container, self.stream, self.count = container, stream, 0

    def write(self, image: Image) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def flush(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)


def _write_outcomes(
    writer: _Writer, frames: list[Image], outcomes: list[FrameOutcome], tally: dict[str, int]
) -> None:
    for frame, outcome in zip(frames, outcomes, strict=True):
        if outcome.image is None and not outcome.fail_closed:
            raise ClipError(f"frame {writer.count}: {outcome.error}") from outcome.error
        writer.write(outcome.image if outcome.image is not None else np.zeros_like(frame))
        tally["faces"] += outcome.faces
        tally["plates"] += outcome.plates
        tally["fail_closed"] += int(outcome.fail_closed)


def _finish_ready(
    writer: _Writer,
    anonymizer: Anonymizer,
    config: BlurConfig,
    window: _Window,
    tally: dict[str, int],
    final: bool,
) -> None:
    ready = window.ready(final)
    outcomes = [
        anonymizer.finish(frame, found, config, True, window.held(index, frame.shape))
        for index, frame, found in ready
    ]
    _write_outcomes(writer, [frame for _, frame, _ in ready], outcomes, tally)
    tally["held"] += sum(len(o.held) for o in outcomes)
    window.forget()


def _batches(source: Any, video: Any, size: int) -> Iterator[list[Image]]:
    pending: list[Image] = []
    for decoded in source.decode(video):
        pending.append(decoded.to_ndarray(format="bgr24"))
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


@dataclass
class _Window:
    """Detected frames waiting for their next ``hold`` frames' boxes (the box hold, both
    directions: a region found in frame t is blurred in t-hold .. t+hold too)."""

    hold: int
    frames: list[tuple[int, Image, list[Detection] | AnonymizeError]] = field(default_factory=list)
    done: int = 0  # frames finished so far (the next one to finish is frames[i] with index done)

    def held(self, index: int, size: tuple[int, ...]) -> list[Detection]:
        return [
            det
            for other, frame, found in self.frames
            if other != index
            and abs(other - index) <= self.hold
            and frame.shape == size
            and isinstance(found, list)
            for det in found
        ]

    def ready(self, final: bool) -> list[tuple[int, Image, list[Detection] | AnonymizeError]]:
        """The next frames whose ``hold`` later neighbours are all detected (every one left
        when ``final``); :meth:`forget` then drops what no later frame needs."""
        newest = self.frames[-1][0] if self.frames else -1
        out = [
            f for f in self.frames if f[0] >= self.done and (final or f[0] + self.hold <= newest)
        ]
        self.done += len(out)
        return out

    def forget(self) -> None:
        self.frames = [f for f in self.frames if f[0] >= self.done - self.hold]


def anonymize_clip(
    path_in: Path,
    path_out: Path,
    anonymizer: Anonymizer,
    config: BlurConfig,
    batch: int = 8,
    hold: int = 0,
) -> ClipSummary:
    """Anonymize every frame of ``path_in`` into ``path_out`` (blocking; run it in a pool).

    With ``hold`` k, a box found in frame t also covers frames t-k .. t+k (detections run one
    batch ahead of the blurring, so a frame waits for its next k frames' boxes).
    """
    try:
        source = av.open(str(path_in))
    except (av.error.FFmpegError, OSError) as exc:
        raise ClipError(f"cannot open {path_in}: {exc}") from exc
    with source:
        if not source.streams.video:
            raise ClipError(f"{path_in} has no video stream")
        video = source.streams.video[0]
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        codec = _output_codec(video.codec_context.name)
        tally = {"faces": 0, "plates": 0, "fail_closed": 0, "held": 0}
        try:
            with av.open(str(path_out), "w") as target:
                writer = _Writer(
                    target, _open_output(target, codec, rate, video.width, video.height)
                )
                window = _Window(max(0, hold))
                for frames in _batches(source, video, batch):
                    detected = anonymizer.detect(frames, [config] * len(frames))
                    start = window.frames[-1][0] + 1 if window.frames else 0
                    window.frames.extend(
                        (start + i, f, d)
                        for i, (f, d) in enumerate(zip(frames, detected, strict=True))
                    )
                    _finish_ready(writer, anonymizer, config, window, tally, final=False)
                _finish_ready(writer, anonymizer, config, window, tally, final=True)
                writer.flush()
        except av.error.FFmpegError as exc:
            raise ClipError(f"{path_in} -> {path_out}: {exc}") from exc
    return ClipSummary(
        frames=writer.count,
        fps=float(rate),
        width=video.width,
        height=video.height,
        faces=tally["faces"],
        plates=tally["plates"],
        fail_closed_frames=tally["fail_closed"],
        codec=codec,
        held_boxes=tally["held"],
    )
