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
from pathlib import Path

from swapcam.core.engines import EngineConfig
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.core.model_info import read_model_info
from swapcam.core.progress import progress
from swapcam.core.video import VideoReader, VideoWriter, rgb
from swapcam.core.workers import Worker, raise_first_error
from swapcam.live.faceswap import FaceSwap
from swapcam.live.lost import LostPolicy
from swapcam.live.settings import SwapSettings
from swapcam.live.telemetry import Telemetry

log = logging.getLogger(__name__)

_END = object()


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
    # where the watermark goes (swapcam.live.mark_track.MARK_PLACEMENTS): "exact", verify's tracker on every frame
    # (one more face mesh per frame); "follow" and "sampled", as the live loop can, run in line (repeatable)
    mark_placement: str = "exact"


@dataclass(frozen=True)
class ConvertResult:
    frames: int
    frames_with_face: int
    audio_packets: int
    seconds: float
    fps: float
    interrupted: bool  # stopped by SIGINT/SIGTERM: the file holds the frames before that, finalised
    stats: dict


def _put(q: queue.Queue, item, halt: threading.Event, consumer: threading.Thread | None = None) -> None:
    """Blocks until ``item`` is queued, unless ``halt`` is set or the ``consumer`` thread has died."""
    while not halt.is_set() and (consumer is None or consumer.is_alive()):
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def convert(config: ConvertConfig, stop: threading.Event | None = None) -> ConvertResult:
    stop = stop or threading.Event()
    halt = threading.Event()  # set when the loop ends for any reason: tells the reader to stop
    info = read_model_info(config.model)  # a foreign or damaged model: one clear line before the input is opened
    src = Path(config.input)
    if not src.is_file():
        raise SwapcamError(f"no such file: {src}")
    if Path(config.output).resolve() == src.resolve():
        raise SwapcamError("the output would overwrite the input")
    tel = Telemetry()
    with contextlib.ExitStack() as stack:
        inp = stack.enter_context(VideoReader(str(src), audio=True))  # offline: frame threading for throughput
        rate, total = inp.rate, inp.frames or None
        swap = stack.enter_context(FaceSwap(config.model, config.engine,
                                            settings=config.settings, provenance=config.provenance,
                                            engine_config=config.engine_config, telemetry=tel,
                                            info=info, repeatable=True,
                                            mark_placement=config.mark_placement))  # fmt: skip
        # keeps the input's time base and timestamps; closed first on the way out: the file gets its index
        out = stack.enter_context(VideoWriter(config.output, inp.width, inp.height, rate, live=False,
                                              provenance=config.provenance, model=Path(config.model).name,
                                              time_base=inp.time_base, preset=config.x264_preset,
                                              crf=config.crf))  # fmt: skip
        if inp.audio is not None:
            out.add_audio_like(inp.audio)

        lost = LostPolicy()  # where the swapped face is lost (SwapSettings.on_lost)
        lost.load_still(config.settings.on_lost, (inp.height, inp.width))
        decoded: queue.Queue = queue.Queue(config.queue_size)
        processed: queue.Queue = queue.Queue(config.queue_size)
        counts = {"frames": 0, "audio": 0}

        def read() -> None:  # demux + decode; audio packets travel in order with the video frames
            import av

            index = 0
            for item in inp.demux():
                if halt.is_set():
                    break
                if isinstance(item, av.Packet):
                    _put(decoded, ("audio", item), halt)
                    continue
                frame = Frame(rgb(item), index, inp.seconds(item, index))
                # landmarks run here, a frame ahead of align/infer/blend on the main thread
                _put(decoded, ("video", frame, item.pts, swap.find(frame)), halt)
                index += 1

        def write() -> None:  # encode + mux
            while True:
                item = processed.get()
                if item is _END:
                    break
                kind, payload, *rest = item  # ("video", Frame, pts, faces) | ("audio", Packet)
                if kind == "video":
                    out.write(payload.image, rest[0])
                    counts["frames"] += 1
                else:
                    counts["audio"] += out.mux_audio(payload)

        reader = Worker(read, "decode", on_exit=lambda: _put(decoded, _END, halt))
        writer = Worker(write, "encode")
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
                    swapped = swap.process(item[1], item[3])
                    settings = swap.settings
                    lost(item[1], policy=settings.on_lost, swapped=swapped, faces=item[3], enabled=settings.enabled)
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
        raise_first_error((reader, writer))
        stats = tel.summary()
    return ConvertResult(counts["frames"], stats["frames_with_face"], counts["audio"], stats["elapsed_s"],
                         round(counts["frames"] / max(stats["elapsed_s"], 1e-9), 2), interrupted, stats)  # fmt: skip
