"""The one video decode path and the one H.264 writer of swapcam, both through PyAV.

``VideoReader`` opens a file or a network URL and decodes its first video stream to RGB (and hands over the
first audio stream's packets when asked): ``media_io.read_video``, the live sources and ``convert`` all read
through it. ``VideoWriter`` opens a file or a stream, encodes RGB frames at the timestamps the caller gives,
flushes the encoder and finalises the container: the live file and stream sinks, ``convert`` and the demo's clips
all write through it. Both turn FFmpeg's errors into one ``SwapcamError`` line (a full disk says so).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError

log = logging.getLogger(__name__)

STREAM_FORMATS = {"udp": "mpegts", "srt": "mpegts", "tcp": "mpegts", "rtmp": "flv", "rtmps": "flv", "rtsp": "rtsp"}
FILE_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts", ".flv": "flv"}
# Network inputs that arrive in real time (never paced, read with FFmpeg's low-delay flags)
LIVE_SCHEMES = frozenset({"udp", "rtp", "rtsp", "rtmp", "rtmps", "srt", "tcp"})
# Audio codecs an MP4/MOV file takes as they are; anything else is re-encoded to AAC there.
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})


def scheme_of(target: str) -> str:
    """'file' for a path, else the URL's scheme in lower case."""
    return target.split("://", 1)[0].lower() if "://" in target else "file"


def reason(target: str, exc: BaseException) -> str:
    """FFmpeg's error as a short reason, with the two cases users hit named plainly."""
    import av

    if isinstance(exc, av.ProtocolNotFoundError):  # PyAV's wheels are built without libsrt
        return (f"the FFmpeg inside PyAV has no {scheme_of(target)}:// support; use udp:// or rtmp://, or a PyAV "
                "built against an FFmpeg with that protocol")  # fmt: skip
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return "the disk is full (no space left on device)"
    return str(getattr(exc, "strerror", None) or exc)


def output_format(target: str) -> str:
    """FFmpeg muxer for a URL (by scheme) or a file (by suffix)."""
    if "://" in target:
        scheme = scheme_of(target)
        if scheme not in STREAM_FORMATS:
            schemes = ", ".join(s + "://" for s in STREAM_FORMATS)
            raise SwapcamError(f"unsupported stream URL {target!r}: use {schemes}")
        return STREAM_FORMATS[scheme]
    suffix = Path(target).suffix.lower()
    if suffix not in FILE_FORMATS:
        raise SwapcamError(f"unsupported output file {target!r}: use {', '.join(FILE_FORMATS)}")
    return FILE_FORMATS[suffix]


class VideoReader:
    """The first video stream of a file or URL, decoded to RGB.

    live: latency over throughput (slice threading, FFmpeg's low-delay flags for network inputs). audio: also
    hand over the first audio stream's packets (``demux``). open_timeout / read_timeout: seconds FFmpeg may block
    opening the input / waiting for data (a stalled network source then raises instead of hanging).
    """

    def __init__(self, target: str, *, live: bool = False, audio: bool = False, open_timeout: float = 10.0,
                 read_timeout: float | None = None) -> None:  # fmt: skip
        import av

        self._av = av
        self.target = target
        self.network = scheme_of(target) in LIVE_SCHEMES
        options = {}
        if self.network:
            options = {"fflags": "nobuffer", "flags": "low_delay"}
            if scheme_of(target) == "rtsp":
                options["rtsp_transport"] = "tcp"
        timeout = open_timeout if read_timeout is None else (open_timeout, read_timeout)
        try:
            self.container = av.open(target, options=options, timeout=timeout)
        except av.FFmpegError as exc:
            raise SwapcamError(f"cannot read video {target}: {reason(target, exc)}") from exc
        if not self.container.streams.video:
            self.container.close()
            raise SwapcamError(f"no video stream in {target}")
        self.stream = self.container.streams.video[0]
        # frame threading holds frames back: live sources decode with slice threads, offline reading with both
        self.stream.thread_type = "SLICE" if live else "AUTO"
        self.audio = self.container.streams.audio[0] if audio and self.container.streams.audio else None
        cc = self.stream.codec_context
        self.width, self.height = cc.width, cc.height
        self.rate: Fraction = Fraction(self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
                                       or 30)  # fmt: skip
        self.fps = float(self.rate)
        self.time_base: Fraction = self.stream.time_base
        self.frames = self.stream.frames  # as the container says; 0 when unknown
        self._closed = False

    def seconds(self, vf, index: int) -> float:
        """Stream time of a decoded frame (s); the frame index over the rate when it carries no timestamp."""
        if vf.pts is not None and vf.time_base:
            return float(vf.pts * vf.time_base)
        return index / self.fps

    def _wrap(self, items: Iterator) -> Iterator:
        try:
            yield from items
        except self._av.FFmpegError as exc:
            raise SwapcamError(f"cannot read video {self.target}: {reason(self.target, exc)}") from exc

    def decode(self) -> Iterator:
        """The video frames (``av.VideoFrame``) in order; a break in the input raises SwapcamError after the frames
        decoded before it."""
        return self._wrap(self.container.decode(self.stream))

    def demux(self) -> Iterator:
        """Decoded video frames and, in stream order with them, the audio stream's packets (``av.Packet``)."""

        def items():
            streams = [self.stream] + ([self.audio] if self.audio is not None else [])
            for packet in self.container.demux(*streams):
                if packet.stream is self.audio:
                    yield packet
                else:
                    yield from packet.decode()

        return self._wrap(items())

    def rewind(self) -> None:
        self.container.seek(0)

    def close(self) -> None:
        """Closes the input and lets go of its streams (idempotent): PyAV frees a decoder, its threads and its frame
        pool only with the last reference to its stream, and a closed reader may stay referenced for a long time
        (the live runner keeps the source it started with after a reconnect replaced it: issue 12's soak saw
        ~15 MB and 4 threads stay behind at the first outage). Iterators from ``decode``/``demux`` hold the
        decoder too: their owner drops them."""
        if not self._closed:
            self._closed = True
            self.container.close()
            self.stream = self.audio = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rgb(vf) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame."""
    return vf.to_ndarray(format="rgb24")


class VideoWriter:
    """An H.264 file or stream. ``write(image, pts)`` encodes one (H, W, 3) uint8 RGB frame at ``pts`` (in
    ``time_base`` units, increasing); ``close()`` flushes the encoder's delayed frames and finalises the container
    (idempotent). A write that fails (a full disk, a receiver gone) raises one SwapcamError line; ``close`` after
    it still finalises what it can, so a file that was being written stays playable.

    live: low-latency encoding (no look-ahead, no B-frames, a key frame every second) and, for MP4/MOV files, a
    fragmented file (a moov up front, a fragment a second): everything written before a crash or a full disk plays.
    provenance: swapcam's synthetic-media tags (``swapcam.core.provenance``); metadata: more container tags.
    """

    def __init__(self, target: str, width: int, height: int, rate: Fraction, *, live: bool, provenance: bool,
                 model: str | None = None, time_base: Fraction | None = None, preset: str = "veryfast",
                 crf: int = 18, metadata: dict[str, str] | None = None,
                 open_timeout: float = 10.0) -> None:  # fmt: skip
        import av

        from swapcam.core.provenance import SYNTHETIC_NOTE, provenance_tags

        self._av = av
        self.target = target
        fmt = output_format(target)
        if "://" not in target and not Path(target).parent.is_dir():
            raise SwapcamError(f"output folder does not exist: {Path(target).parent}")
        options = {}
        self._fragmented = live and fmt in ("mp4", "mov") and "://" not in target
        if fmt in ("mp4", "mov"):
            options["movflags"] = "+use_metadata_tags" + ("+frag_keyframe+empty_moov+default_base_moof" if live else "")
        if fmt == "rtsp":
            options["rtsp_transport"] = "tcp"
        try:
            self.container = av.open(target, "w", format=fmt, options=options, timeout=open_timeout)
        except av.FFmpegError as exc:
            raise SwapcamError(f"cannot open output {target}: {reason(target, exc)}") from exc
        self.time_base = time_base or 1 / Fraction(rate)
        stream = self.stream = self.container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
        stream.pix_fmt = "yuv420p"
        # the encoder counts in the same units: in coarser ones two close frames would share a pts (EINVAL)
        stream.time_base = stream.codec_context.time_base = self.time_base
        if live:
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(max(1, round(float(rate))))}
        else:
            # veryfast: 11 ms of CPU a 720p frame here, about half of a convert's CPU; superfast 8 ms at 2.5x the size
            stream.options = {"preset": preset, "crf": str(crf)}
        if provenance:
            self.container.metadata.update(provenance_tags(model))
            stream.metadata["comment"] = SYNTHETIC_NOTE
            if fmt == "mpegts":  # MPEG-TS carries only its service description
                self.container.metadata["service_provider"] = "swapcam (synthetic media)"
                self.container.metadata["service_name"] = SYNTHETIC_NOTE[:200]
        self.container.metadata.update(metadata or {})
        self.width, self.height = stream.width, stream.height
        self.audio = None
        self._transcode_audio = False
        self.frames = 0
        self.failed: str | None = None  # the one line of the first write error
        self._closed = False

    # -- audio (convert carries the input's audio over) ----------------------------------------------------------
    def add_audio_like(self, source) -> None:
        """An audio stream for ``source``'s packets: copied as they are, or re-encoded to AAC where the container
        does not take that codec (MP4/MOV); then pass packets to ``mux_audio``."""
        fmt = self.container.format.name
        cc = source.codec_context
        self._transcode_audio = ("mp4" in fmt or "mov" in fmt) and cc.name not in MP4_AUDIO
        if self._transcode_audio:
            self.audio = self.container.add_stream("aac", rate=cc.sample_rate or 48000)
            self.audio.layout = "mono" if cc.channels == 1 else "stereo"
        else:
            self.audio = self.container.add_stream_from_template(source)

    def mux_audio(self, packet) -> int:
        """Writes one audio packet of the source stream; returns how many packets went into the file."""
        if not self._transcode_audio:
            if packet.dts is None:  # a demuxer's flush packet
                return 0
            packet.stream = self.audio
            return self._mux([packet])
        n = 0
        for af in packet.decode():
            af.pts = None  # let the AAC encoder number the samples
            n += self._mux(self.audio.encode(af))
        return n

    # -- video ----------------------------------------------------------------------------------------------------
    def write(self, image: np.ndarray, pts: int) -> None:
        """Encodes (H, W, 3) uint8 RGB ``image`` at ``pts`` (``time_base`` units); odd sizes lose a row/column."""
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = image[: self.height, : self.width]
        vf = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        vf.pts, vf.time_base = pts, self.time_base
        self._mux(self.stream.encode(vf), encoding=True)
        self.frames += 1

    def _mux(self, packets, *, encoding: bool = False) -> int:
        av = self._av
        if self.failed:
            raise SwapcamError(self.failed)
        n = 0
        try:
            for packet in packets:
                self.container.mux(packet)
                n += 1
        except (av.FFmpegError, OSError) as exc:  # a full disk, a receiver gone (streams connect on the first packet)
            self.failed = f"cannot write to {self.target}: {reason(self.target, exc)}"
            raise SwapcamError(self.failed) from exc
        return n

    def close(self) -> None:
        """Flushes the encoders and finalises the container (idempotent). After a failed write it finalises what it
        can and logs; otherwise a failure to finalise raises one line."""
        if self._closed:
            return
        self._closed = True
        av = self._av
        if not self.failed:
            try:
                self._mux(self.stream.encode(None))
                if self._transcode_audio:
                    self._mux(self.audio.encode(None))
            except SwapcamError as exc:
                log.warning("%s", exc)
        try:
            self.container.close()
        except (av.FFmpegError, OSError) as exc:
            if not self.failed:
                raise SwapcamError(f"cannot finalise {self.target}: {reason(self.target, exc)}") from exc
            log.debug("finalising %s after a failed write: %s", self.target, exc)  # the first error was reported
        finally:
            self.stream = self.audio = None  # the encoders and their threads go now (see VideoReader.close)
            if self.failed and self._fragmented:
                cut_to_last_fragment(self.target)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cut_to_last_fragment(path: str | Path) -> int:
    """Cuts a fragmented MP4 that broke off (a full disk, a crash) back to its last complete fragment, so that
    every player reads it to the end without an error; returns the new size. Walks the top-level boxes (size,
    type): a box running past the end is dropped, and so is a ``moof`` left without its ``mdat``."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            good, pos = 0, 0
            while pos + 8 <= size:
                f.seek(pos)
                header = f.read(16)
                box, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if box == 1 and len(header) >= 16:  # a 64-bit size follows the type
                    box = int.from_bytes(header[8:16], "big")
                if box < 8 or pos + box > size:
                    break
                pos += box
                if kind != b"moof":  # a fragment is complete only with its mdat
                    good = pos
        if good < size:
            os.truncate(p, good)
            log.info("%s: cut back to its last complete fragment (%d of %d bytes)", p, good, size)
        return good
    except OSError as exc:
        log.warning("could not tidy %s after the write failed: %s", p, exc)
        return -1
