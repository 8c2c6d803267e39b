"""Offline convert: every frame of a video through the model, same size, frame rate, frame count and timestamps,
audio carried over. Three threads joined by small bounded queues, so the slowest sets the pace and nothing is
dropped: decode + landmarks (tracking needs the frames in order), align + infer + blend, encode + mux.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from swapcam.core.engines import EngineConfig
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.core.model_info import read_model_info
from swapcam.live.faceswap import FaceSwap
from swapcam.live.settings import SwapSettings
from swapcam.core.progress import progress
from swapcam.live.sinks.av_out import open_output
from swapcam.live.telemetry import Telemetry

log = logging.getLogger(__name__)

_END = object()
# Audio codecs an MP4/MOV file takes as they are; anything else is re-encoded to AAC there.
_MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}


@dataclass(frozen=True)
class ConvertConfig:
    model: str
    input: str
    output: str
    engine: str = "auto"
    engine_config: EngineConfig = field(default_factory=EngineConfig)
    settings: SwapSettings = field(default_factory=SwapSettings)
    provenance: bool = True
    progress: bool = True
    x264_preset: str = "veryfast"  # ultrafast .. veryslow: speed against file size
    crf: int = 18  # x264 quality (lower is better; 18 is visually lossless for most footage)
    queue_size: int = 4  # frames in flight between threads (bounded: memory stays flat)


@dataclass(frozen=True)
class ConvertResult:
    frames: int
    frames_with_face: int
    audio_packets: int
    seconds: float
    fps: float
    interrupted: bool  # stopped by SIGINT/SIGTERM: the file holds the frames before that, finalised
    stats: dict


class _Worker(threading.Thread):
    """A thread whose exception is kept for the main thread to re-raise."""

    def __init__(self, target, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._fn, self.error = target, None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:
            self.error = exc


def _put(q: queue.Queue, item, halt: threading.Event, consumer: threading.Thread | None = None) -> None:
    """Blocks until ``item`` is queued, unless ``halt`` is set or the ``consumer`` thread has died."""
    while not halt.is_set() and (consumer is None or consumer.is_alive()):
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _finalise(out, path: str) -> None:
    import av

    try:
        out.close()
    except av.FFmpegError as exc:
        raise SwapcamError(f"cannot finalise {path}: {exc.strerror or exc}") from exc


def convert(config: ConvertConfig, stop: threading.Event | None = None) -> ConvertResult:
    import av

    stop = stop or threading.Event()
    halt = threading.Event()  # set when the loop ends for any reason: tells the reader to stop
    info = read_model_info(config.model)
    src = Path(config.input)
    if not src.is_file():
        raise SwapcamError(f"no such file: {src}")
    if Path(config.output).resolve() == src.resolve():
        raise SwapcamError("the output would overwrite the input")
    try:
        inp = av.open(str(src))
    except av.FFmpegError as exc:
        raise SwapcamError(f"cannot read video {src}: {exc.strerror or exc}") from exc
    tel = Telemetry()
    with contextlib.ExitStack() as stack:
        stack.callback(inp.close)
        if not inp.streams.video:
            raise SwapcamError(f"no video stream in {src}")
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"  # offline: frame threading for throughput
        ain = inp.streams.audio[0] if inp.streams.audio else None
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        width, height = vin.codec_context.width, vin.codec_context.height
        total = vin.frames or None
        swap = stack.enter_context(FaceSwap(config.model, config.engine, settings=config.settings,
                                            engine_config=config.engine_config, telemetry=tel))  # fmt: skip
        out, vout = open_output(config.output, width, height, rate, live=False, provenance=config.provenance,
                                model=Path(config.model).name, time_base=vin.time_base, preset=config.x264_preset,
                                crf=config.crf)  # fmt: skip
        stack.callback(_finalise, out, config.output)  # runs first on the way out: the file gets its index
        aout, transcode = None, False
        if ain is not None:
            fmt = out.format.name
            if "mp4" in fmt or "mov" in fmt:
                transcode = ain.codec_context.name not in _MP4_AUDIO
            if transcode:
                aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48000)
                aout.layout = "mono" if ain.codec_context.channels == 1 else "stereo"
            else:
                aout = out.add_stream_from_template(ain)

        decoded: queue.Queue = queue.Queue(config.queue_size)
        processed: queue.Queue = queue.Queue(config.queue_size)
        counts = {"frames": 0, "audio": 0}

        def read() -> None:  # demux + decode; audio packets travel in order with the video frames
            streams = [vin] + ([ain] if ain is not None else [])
            index = 0
            try:
                for packet in inp.demux(*streams):
                    if halt.is_set():
                        break
                    if packet.stream is ain:
                        if transcode:
                            for af in packet.decode():
                                _put(decoded, ("audio-frame", af), halt)
                        elif packet.dts is not None:
                            _put(decoded, ("audio", packet), halt)
                        continue
                    for vf in packet.decode():
                        t = float(vf.pts * vf.time_base) if vf.pts is not None else index / float(rate)
                        frame = Frame(vf.to_ndarray(format="rgb24"), index, t)
                        # landmarks run here, a frame ahead of align/infer/blend on the main thread
                        _put(decoded, ("video", frame, vf.pts, swap.find(frame)), halt)
                        index += 1
            except av.FFmpegError as exc:
                raise SwapcamError(f"cannot read video {src}: {exc.strerror or exc}") from exc
            finally:
                _put(decoded, _END, halt)

        def write() -> None:  # encode + mux
            try:
                encode_all()
            except av.FFmpegError as exc:  # a full disk, a vanished folder
                raise SwapcamError(f"cannot write {config.output}: {exc.strerror or exc}") from exc

        def encode_all() -> None:
            import av as _av

            while True:
                item = processed.get()
                if item is _END:
                    break
                kind, payload, *rest = item  # ("video", Frame, pts, faces) | ("audio", Packet) | ("audio-frame", ..)
                if kind == "video":
                    image = payload.image[: vout.height, : vout.width]  # odd sizes lose a row/column (yuv420p)
                    vf = _av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                    vf.pts, vf.time_base = rest[0], vin.time_base
                    for pkt in vout.encode(vf):
                        out.mux(pkt)
                    counts["frames"] += 1
                elif kind == "audio":
                    payload.stream = aout
                    out.mux(payload)
                    counts["audio"] += 1
                else:
                    payload.pts = None  # let the AAC encoder number the samples
                    for pkt in aout.encode(payload):
                        out.mux(pkt)
                        counts["audio"] += 1
            for pkt in vout.encode(None):
                out.mux(pkt)
            if transcode:
                for pkt in aout.encode(None):
                    out.mux(pkt)

        reader, writer = _Worker(read, "decode"), _Worker(write, "encode")
        reader.start()
        writer.start()
        bar = progress(iter(int, 1), total=total, desc=f"convert {src.name}", unit="frame") if config.progress else None
        try:
            while not stop.is_set():
                if writer.error or reader.error:
                    break
                try:
                    item = decoded.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is _END:
                    break
                if item[0] == "video":
                    swap.process(item[1], item[3])
                    if bar is not None:
                        next(bar)
                _put(processed, item, halt, writer)  # a writer that died (disk full, say) cannot block us
        finally:
            interrupted = stop.is_set()
            halt.set()  # unblocks the reader if the loop ended early
            while writer.is_alive():  # the writer always gets the end, unless it died
                try:
                    processed.put(_END, timeout=0.2)
                    break
                except queue.Full:
                    continue
            writer.join()
            reader.join(timeout=5)
            if bar is not None:
                bar.close()
        for w in (reader, writer):
            if w.error:
                raise w.error
        stats = tel.summary()
    return ConvertResult(counts["frames"], stats["frames_with_face"], counts["audio"], stats["elapsed_s"],
                         round(counts["frames"] / max(stats["elapsed_s"], 1e-9), 2), interrupted, stats)  # fmt: skip
