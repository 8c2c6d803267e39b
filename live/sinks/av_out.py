"""H.264 output through PyAV: files (mp4, mkv, mov, ts) and network streams (udp/srt/tcp MPEG-TS, rtmp FLV, rtsp).

Every container gets swapcam's provenance tags (swapcam.core.provenance) unless provenance is switched off explicitly.
``AvSink`` is the live loop's sink (pts from capture time, low-latency encoder settings); ``open_output`` is shared
with the offline ``convert``, which keeps the input's timestamps and frame rate.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.core.provenance import SYNTHETIC_NOTE, provenance_tags

log = logging.getLogger(__name__)

_STREAM_FORMATS = {"udp": "mpegts", "srt": "mpegts", "tcp": "mpegts", "rtmp": "flv", "rtmps": "flv", "rtsp": "rtsp"}
_FILE_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts", ".flv": "flv"}


def output_format(target: str) -> str:
    """FFmpeg muxer for a URL (by scheme) or a file (by suffix)."""
    if "://" in target:
        scheme = target.split("://", 1)[0].lower()
        if scheme not in _STREAM_FORMATS:
            schemes = ", ".join(s + "://" for s in _STREAM_FORMATS)
            raise SwapcamError(f"unsupported stream URL {target!r}: use {schemes}")
        return _STREAM_FORMATS[scheme]
    suffix = Path(target).suffix.lower()
    if suffix not in _FILE_FORMATS:
        raise SwapcamError(f"unsupported output file {target!r}: use {', '.join(_FILE_FORMATS)}")
    return _FILE_FORMATS[suffix]


def _reason(target: str, exc) -> str:
    import av

    if isinstance(exc, av.ProtocolNotFoundError):  # PyAV's wheels are built without libsrt
        return (f"the FFmpeg inside PyAV has no {target.split(':', 1)[0]}:// support; use udp:// or rtmp://, or a PyAV "
                "built against an FFmpeg with that protocol")  # fmt: skip
    return str(exc.strerror or exc)


def open_output(target: str, width: int, height: int, rate: Fraction, *, live: bool, provenance: bool,
                model: str | None, time_base: Fraction | None = None, preset: str = "veryfast",
                crf: int = 18):  # fmt: skip
    """Opens the container and an H.264 stream; returns (container, stream). The caller encodes and closes."""
    import av

    fmt = output_format(target)
    if "://" not in target and not Path(target).parent.is_dir():
        raise SwapcamError(f"output folder does not exist: {Path(target).parent}")
    options = {"movflags": "+use_metadata_tags"} if fmt in ("mp4", "mov") else {}
    if fmt == "rtsp":
        options["rtsp_transport"] = "tcp"
    try:
        container = av.open(target, "w", format=fmt, options=options, timeout=10)
    except av.FFmpegError as exc:
        raise SwapcamError(f"cannot open output {target}: {_reason(target, exc)}") from exc
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
    stream.pix_fmt = "yuv420p"
    if time_base is not None:
        stream.time_base = time_base
    if live:
        # no look-ahead, no B-frames, a key frame every second so a viewer can join quickly
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(max(1, round(float(rate))))}
    else:
        # veryfast: 11 ms of CPU a 720p frame here, about half of a convert's CPU; superfast 8 ms at 2.5x the size
        stream.options = {"preset": preset, "crf": str(crf)}
    if provenance:
        container.metadata.update(provenance_tags(model))
        stream.metadata["comment"] = SYNTHETIC_NOTE
        if fmt == "mpegts":  # MPEG-TS carries only its service description
            container.metadata["service_provider"] = "swapcam (synthetic media)"
            container.metadata["service_name"] = SYNTHETIC_NOTE[:200]
    return container, stream


class AvSink:
    """Encodes frames as they come (pts from the capture clock, so the file's timing is the real one)."""

    def __init__(self, target: str, width: int, height: int, fps: float, *, provenance: bool = True,
                 model: str | None = None) -> None:  # fmt: skip
        self.name = target
        self._tb = Fraction(1, 1000)  # milliseconds: frames keep their capture times, drops leave gaps
        rate = Fraction(fps).limit_denominator(1001)
        self.container, self.stream = open_output(target, width, height, rate, live=True, provenance=provenance,
                                                  model=model, time_base=self._tb)  # fmt: skip
        self._w, self._h = self.stream.width, self.stream.height
        self._t0: float | None = None
        self._last_pts = -1
        self._closed = False
        self.frames = 0

    def write(self, frame: Frame) -> None:
        import av

        image = frame.image
        if image.shape[1] != self._w or image.shape[0] != self._h:
            image = image[: self._h, : self._w]
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if self._t0 is None:
            self._t0 = frame.t_capture
        pts = max(round((frame.t_capture - self._t0) / self._tb), self._last_pts + 1)
        vf.pts, vf.time_base = pts, self._tb
        self._last_pts = pts
        try:
            for packet in self.stream.encode(vf):
                self.container.mux(packet)
        except av.FFmpegError as exc:  # streams connect on the first packet: a refused or missing receiver ends here
            raise SwapcamError(f"cannot write to {self.name}: {_reason(self.name, exc)}") from exc
        self.frames += 1

    def close(self) -> None:
        """Flushes the encoder and finalises the container (idempotent)."""
        if self._closed:
            return
        self._closed = True
        import av

        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        except av.FFmpegError as exc:  # a receiver that went away must not stop the file from closing
            log.warning("flushing %s: %s", self.name, exc)
        try:
            self.container.close()
        except av.FFmpegError as exc:
            raise SwapcamError(f"cannot finalise {self.name}: {_reason(self.name, exc)}") from exc

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


