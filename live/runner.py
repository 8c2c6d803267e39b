"""The live loop: capture -> landmarks -> align -> infer -> composite -> sinks, on three kinds of thread.

    capture thread   reads the source as fast as it delivers and puts each frame in a one-place slot: the newest
                     frame wins, a frame the loop had no time for is dropped and counted. Capture never waits.
    main thread      takes the newest frame, runs the FramePipeline on it, hands it to every sink's slot.
    one per sink     writes frames; a slow sink drops its own stale frames and never holds up processing.

Every frame keeps its capture timestamp to the sink, where the capture -> sink latency is measured. SIGINT and
SIGTERM (through ``stop``) end the loop cleanly: sinks are flushed and closed, so files play.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from swapcam.core.atomic import write_atomic
from swapcam.core.engines import EngineConfig
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame
from swapcam.core.model_info import read_model_info
from swapcam.live.faceswap import FaceSwap
from swapcam.live.settings import SwapSettings
from swapcam.live.sinks import SinkOptions, open_sink, sink_kind
from swapcam.live.slot import Closed, LatestSlot
from swapcam.live.sources import SourceConfig, open_source
from swapcam.live.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveConfig:
    model: str
    source: str
    sinks: tuple[str, ...]
    engine: str = "auto"
    engine_config: EngineConfig = field(default_factory=EngineConfig)
    source_config: SourceConfig = field(default_factory=SourceConfig)
    settings: SwapSettings = field(default_factory=SwapSettings)
    sink_options: SinkOptions = field(default_factory=SinkOptions)
    max_frames: int | None = None  # stop after this many processed frames
    stats_json: str | None = None
    status: bool | None = None  # one-line live status on stderr (None: when stderr is a terminal)


def _sink_worker(sink, slot: LatestSlot, tel: Telemetry, primary: bool) -> None:
    try:
        while True:
            try:
                frame = slot.get(timeout=0.5)
            except Closed:
                return
            if frame is None:
                continue
            t0 = time.perf_counter()
            sink.write(frame)
            tel.stage(f"sink {sink.name}", time.perf_counter() - t0)
            tel.delivered(sink.name, frame.t_capture, primary=primary)
    except BaseException as exc:  # stored and re-raised by the main loop
        slot.fail(exc)
    finally:
        release = getattr(sink, "release_on_thread", None)  # GUI sinks clean up on their own thread
        if release is not None:
            release()


def _capture_worker(source, slot: LatestSlot, tel: Telemetry, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            frame = source.read()
            if frame is None or stop.is_set():  # a frame read after the stop is neither processed nor dropped
                break
            tel.count("frames_in")
            slot.put(frame)
    except BaseException as exc:
        slot.fail(exc)
    finally:
        slot.close()


def run_live(config: LiveConfig, stop: threading.Event | None = None) -> dict:
    """Runs until the source ends, ``max_frames`` frames were processed, or ``stop`` is set; returns the stats."""
    stop = stop or threading.Event()
    info = read_model_info(config.model)  # a foreign model, a missing file: one clear line before anything opens
    for spec in config.sinks:
        sink_kind(spec)
    if not config.sinks:
        raise SwapcamError("give at least one --sink (vcam, preview, a file or a stream URL)")
    tel = Telemetry()
    show_status = sys.stderr.isatty() if config.status is None else config.status
    options = config.sink_options
    if options.model is None:
        options = SinkOptions(options.provenance, Path(config.model).name, options.vcam_backend, options.vcam_device)
    with contextlib.ExitStack() as stack:
        swap = stack.enter_context(FaceSwap(config.model, config.engine, settings=config.settings,
                                            engine_config=config.engine_config, telemetry=tel))  # fmt: skip
        source = stack.enter_context(open_source(config.source, config.source_config))

        def on_key(key: str) -> None:
            if key == "quit":
                stop.set()
            elif key == "toggle":
                swap.update(enabled=not swap.settings.enabled)

        capture = LatestSlot[Frame]()

        def status() -> str:
            return tel.status_line(capture.dropped)

        sinks = [stack.enter_context(open_sink(spec, source.width, source.height, source.fps, options,
                                               status=status, on_key=on_key))  # fmt: skip
                 for spec in config.sinks]
        log.info("live: %s -> %s, engine %s, %s", source.name, ", ".join(s.name for s in sinks), swap.engine,
                 f"{info.source} -> {info.target}")  # fmt: skip
        sink_slots = [LatestSlot[Frame]() for _ in sinks]
        workers = [threading.Thread(target=_sink_worker, args=(s, q, tel, i == 0), name=f"sink-{i}", daemon=True)
                   for i, (s, q) in enumerate(zip(sinks, sink_slots))]  # fmt: skip
        workers.append(threading.Thread(target=_capture_worker, args=(source, capture, tel, stop), name="capture",
                                        daemon=True))  # fmt: skip
        for w in workers:
            w.start()
        next_status = 0.0
        try:
            while not stop.is_set():
                for q in sink_slots:
                    q.raise_if_failed()
                try:
                    frame = capture.get(timeout=0.2)
                except Closed:
                    break
                if frame is None:
                    continue
                swap.process(frame)
                for q in sink_slots:
                    q.put(frame)
                if config.max_frames and tel.counters["frames_processed"] >= config.max_frames:
                    break
                if show_status and time.perf_counter() >= next_status:
                    next_status = time.perf_counter() + 0.5
                    print("\r" + tel.status_line(capture.dropped) + " ", end="", file=sys.stderr, flush=True)
        finally:
            stop.set()
            for q in sink_slots:
                q.close()
            for w in workers:
                w.join(timeout=10)
            if show_status:
                print(file=sys.stderr)
        for q in sink_slots:
            q.raise_if_failed()
        drops = {f"dropped_sink {s.name}": q.dropped for s, q in zip(sinks, sink_slots)}
        stats = tel.summary({"dropped_capture": capture.dropped, **drops, "engine": swap.engine,
                             "source": source.name, "sinks": [s.name for s in sinks],
                             "frames_written": {s.name: s.frames for s in sinks}})  # fmt: skip
    if config.stats_json:
        write_atomic(config.stats_json, json.dumps(stats, indent=2) + "\n")
    return stats
