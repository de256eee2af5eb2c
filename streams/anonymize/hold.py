"""Box hold for video: a region found in frame t also covers frames t-k .. t+k of its camera.

Detectors jitter: a face found in frames 10 and 12 can be missed in 11. Holding each box for a
few frames of the same camera (same frame size) covers such gaps. Pure and thread-safe; the
frames agent keys it by camera, :func:`streams.anonymize.clip.anonymize_clip` by clip.

Coverage: within one batch both directions; across batches forward (t+1 .. t+k: earlier batches
are remembered). Backward across a batch boundary needs the later frame's boxes before the
earlier one is published, i.e. a delay of k frames: clips do that (they look ahead one batch),
the live stream does not, to keep latency.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.anonymize.geometry import Detection

Track = tuple[str, int]  # (camera or clip, frame number / seq)


@dataclass
class BoxHold:
    """Remembers each track's recent boxes; ``frames`` = k (0 disables the hold)."""

    frames: int
    max_tracks: int = 10_000
    _recent: OrderedDict[str, dict[int, tuple[tuple[int, int], tuple[Detection, ...]]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def exchange(
        self,
        tracks: Sequence[Track | None],
        sizes: Sequence[tuple[int, int]],
        found: Sequence[Sequence[Detection]],
    ) -> list[list[Detection]]:
        """Remember this batch's boxes and return, per frame, the boxes held over it from
        other frames of its track within ``frames`` (both directions, as far as known)."""
        held: list[list[Detection]] = [[] for _ in tracks]
        if self.frames <= 0:
            return held
        with self._lock:
            for track, size, dets in zip(tracks, sizes, found, strict=True):
                if track is not None:
                    self._remember(track, size, tuple(dets))
            for i, (track, size) in enumerate(zip(tracks, sizes, strict=True)):
                if track is not None:
                    held[i] = self._around(track, size)
        return held

    def _remember(self, track: Track, size: tuple[int, int], dets: tuple[Detection, ...]) -> None:
        key, number = track
        frames = self._recent.setdefault(key, {})
        self._recent.move_to_end(key)
        frames[number] = (size, dets)
        newest = max(frames)
        for old in [n for n in frames if n < newest - 2 * self.frames]:
            del frames[old]
        while len(self._recent) > self.max_tracks:
            self._recent.popitem(last=False)

    def _around(self, track: Track, size: tuple[int, int]) -> list[Detection]:
        key, number = track
        out: list[Detection] = []
        for other, (other_size, dets) in self._recent.get(key, {}).items():
            if other != number and abs(other - number) <= self.frames and other_size == size:
                out.extend(dets)
        return out
