"""H.264 output of the live loop through PyAV: files (mp4, mkv, mov, ts) and network streams (udp/srt/tcp MPEG-TS,
rtmp FLV, rtsp), written by ``swapcam.core.video.VideoWriter`` (the one writer, shared with ``convert`` and the
demo's clips). Every container gets swapcam's provenance tags unless provenance is switched off explicitly.
"""

from __future__ import annotations

import logging
from fractions import Fraction

from swapcam.core.messages import Frame
from swapcam.core.video import (
    VideoWriter,
    output_format,  # noqa: F401  (the sinks' registry checks specs with it)
)

log = logging.getLogger(__name__)


class AvSink:
    """Encodes frames as they are handed over; pts come from the output clock (``t_out``, the instant the runner
    handed the frame over, falling back to its capture time), so the file's timing is the real one and a held
    frame takes its own slot. A file is fragmented MP4 when it is an .mp4/.mov: a full disk leaves it playable."""

    def __init__(self, target: str, width: int, height: int, fps: float, *, provenance: bool = True,
                 model: str | None = None) -> None:  # fmt: skip
        self.name = target
        self.network = "://" in target
        self._tb = Fraction(1, 1000)  # milliseconds: frames keep their output times, drops leave gaps
        rate = Fraction(fps).limit_denominator(1001)
        self._out = VideoWriter(target, width, height, rate, live=True, provenance=provenance, model=model,
                                time_base=self._tb, open_timeout=5.0)  # fmt: skip
        self._t0: float | None = None
        self._last_pts = -1
        self.frames = 0

    def write(self, frame: Frame, t_out: float | None = None) -> None:
        t = frame.t_capture if t_out is None else t_out
        if self._t0 is None:
            self._t0 = t
        pts = max(round((t - self._t0) / self._tb), self._last_pts + 1)
        self._out.write(frame.image, pts)
        self._last_pts = pts
        self.frames += 1

    def close(self) -> None:
        """Flushes the encoder and finalises the container (idempotent)."""
        self._out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
