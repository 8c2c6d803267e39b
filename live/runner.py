"""The live loop: capture -> landmarks -> align -> infer -> composite -> output clock -> sinks, on four kinds of
thread (each a ``swapcam.core.workers.Worker``: an error it raises is stored and re-raised by the main loop).

    capture thread   reads the source as fast as it delivers and puts each frame in a one-place slot: the newest
                     frame wins, a frame the loop had no time for is dropped and counted. Capture never waits. A
                     camera or network source that fails or stalls is reopened with backoff (live/capture.py).
    main thread      takes the newest frame, runs FaceSwap on it, applies the tracking-lost policy (live/lost.py)
                     and hands it to the output clock.
    output clock     feeds every sink at the source's rate: a frame that is late is covered by repeating the
                     previous output, a lost source by a held and then a marked "reconnecting" frame (live/pacer.py).
    one per sink     writes frames; a slow sink drops its own stale frames and never holds up processing, and a
                     sink that fails is reported once and never stops the others (live/sinks/guard.py).

Every frame keeps its capture timestamp to the sink, where the capture -> sink latency is measured. SIGINT and
SIGTERM (through ``stop``) end the loop cleanly: sinks are flushed and closed, so files play. The run fails (after
writing its stats) only when its primary sink, the first, failed for good.
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
from swapcam.core.workers import Worker, raise_first_error
from swapcam.live.capture import Capture
from swapcam.live.control import PanelConfig
from swapcam.live.faceswap import FaceSwap
from swapcam.live.lost import LostPolicy
from swapcam.live.pacer import CATCH_UP_S, CadenceSlot, Output, Pacer
from swapcam.live.settings import SwapSettings
from swapcam.live.sinks import SinkOptions, open_sink, sink_kind
from swapcam.live.sinks.guard import GuardedSink
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
    panel: PanelConfig | None = None  # the web control panel (--panel, issue 13); None: none
    mark_placement: str = "sampled"  # --mark-placement: where the watermark goes (swapcam.live.mark_track)


def _sink_worker(sink: GuardedSink, slot: LatestSlot[Output], tel: Telemetry, primary: bool) -> None:
    try:
        while True:
            try:
                out = slot.get(timeout=0.5)
            except Closed:
                return
            if out is None:
                continue
            for i, t_out in enumerate(out.instants):  # one write per window it fills (repeats folded in)
                t0 = time.perf_counter()
                if sink.write(out.frame, t_out):  # a failure is isolated and reported inside
                    tel.stage(f"sink {sink.name}", time.perf_counter() - t0)
                    tel.delivered(sink.name, out.frame.t_capture, primary=primary, fresh=out.fresh and i == 0)
    finally:
        sink.release_on_thread()  # GUI sinks clean up on their own thread


def _fresh_track(swap: FaceSwap) -> None:
    """The source came back after an outage: forget the faces tracked before it (a new track, new smoothing)."""
    pipeline = getattr(swap, "_pipeline", None)
    if pipeline is not None:
        pipeline.landmarker.reset()


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
        swap = stack.enter_context(FaceSwap(config.model, config.engine,
                                            settings=config.settings, provenance=options.provenance,
                                            engine_config=config.engine_config, telemetry=tel,
                                            info=info, mark_placement=config.mark_placement))  # fmt: skip
        source = stack.enter_context(open_source(config.source, config.source_config))

        def on_key(key: str) -> None:
            if key == "quit":
                stop.set()
            elif key == "toggle":
                swap.update(enabled=not swap.settings.enabled)

        capture = LatestSlot[Frame]()
        control = None  # the control panel: consulted once per frame (settings, model switch, preview)
        if config.panel is not None:
            from swapcam.live.panel import open_panel

            control = stack.enter_context(open_panel(config, swap, tel, fps=source.fps,
                                                     dropped=lambda: capture.dropped))  # fmt: skip

        def status() -> str:
            return tel.status_line(capture.dropped)

        width, height, fps = source.width, source.height, source.fps

        def sink_opener(spec: str):
            return lambda: open_sink(spec, width, height, fps, options, status=status, on_key=on_key)

        sinks = []
        for spec in config.sinks:
            reopen = sink_opener(spec) if "://" in spec else None  # network sinks reconnect; files stay closed
            sinks.append(GuardedSink(stack.enter_context(sink_opener(spec)()), reopen))
            stack.callback(sinks[-1].close)
        log.info("live: %s -> %s, engine %s, %s", source.name, ", ".join(s.name for s in sinks), swap.engine,
                 f"{info.source} -> {info.target}")  # fmt: skip
        settings = swap.settings
        lost = LostPolicy()
        # still:IMAGE stands in for a lost face and for a lost source; a missing still: one line before the run
        still = lost.load_still(settings.on_lost, (height, width))
        capturer = Capture(source, lambda: open_source(config.source, config.source_config, open_timeout=3.0),
                           capture, tel, stop, attempts=config.source_config.reconnect)  # fmt: skip
        stack.callback(capturer.close)  # the source in use at the end (a reopened one)
        output = LatestSlot[Frame]()  # processed frames -> the output clock
        # every output frame is a window of the cadence: up to 4 frames wait, repeats fold into them
        sink_slots = [CadenceSlot(4, max_repeats=round(fps * CATCH_UP_S)) for _ in sinks]
        pacer = Pacer(fps, sink_slots, tel, timeout_s=config.source_config.timeout_s,
                      source_lost=lambda: capturer.lost, still=still,
                      source_age=lambda: time.perf_counter() - capturer.last_frame_at)  # fmt: skip
        workers = [Worker(lambda s=s, q=q, i=i: _sink_worker(s, q, tel, i == 0), f"sink-{i}")
                   for i, (s, q) in enumerate(zip(sinks, sink_slots))]  # fmt: skip
        workers.append(Worker(lambda: pacer.run(output), "output-clock"))
        workers.append(Worker(capturer.run, "capture", on_exit=capture.close))
        for w in workers:
            w.start()
        next_status = 0.0
        generation = swapped_since_reconnect = 0
        try:
            while not stop.is_set():
                raise_first_error(workers)
                try:
                    frame = capture.get(timeout=0.2)
                except Closed:
                    break
                if frame is None:
                    continue
                if capturer.generation != generation:  # the source came back after an outage
                    generation, swapped_since_reconnect = capturer.generation, 0
                    _fresh_track(swap)
                if control is not None:
                    swap = control.before_frame(swap, frame)
                swapped = swap.process(frame)
                settings = swap.settings
                lost(frame, policy=settings.on_lost, swapped=swapped, faces=swap.last.faces, enabled=settings.enabled)
                swapped_since_reconnect += swapped > 0
                output.put(frame)
                if control is not None:
                    control.after_frame(frame)
                if config.max_frames and tel.counters["frames_processed"] >= config.max_frames:
                    break
                if show_status and time.perf_counter() >= next_status:
                    next_status = time.perf_counter() + 0.5
                    print("\r" + tel.status_line(capture.dropped) + " ", end="", file=sys.stderr, flush=True)
        finally:
            stop.set()
            output.close()  # the output clock sends what is left, then closes the sinks' slots
            for w in workers:
                w.join(timeout=10)
            if show_status:
                print(file=sys.stderr)
        raise_first_error(workers)
        for s in sinks:
            s.close()  # finalised here (not by the exit stack) so that a failure to finalise is in the stats
        drops = {f"dropped_sink {s.name}": q.dropped for s, q in zip(sinks, sink_slots)}
        stats = tel.summary({"dropped_capture": capture.dropped, "dropped_output": output.dropped + pacer.dropped,
                             **drops, "frames_emitted": pacer.emitted, "engine": swap.engine,
                             "source": source.name, "sinks": [s.name for s in sinks],
                             "frames_written": {s.name: s.frames for s in sinks},
                             "sink_status": {s.name: s.stats() for s in sinks},
                             "reconnect_s": capturer.reconnect_s,
                             "frames_swapped_since_reconnect": swapped_since_reconnect,
                             "seconds_without_source": round(pacer.seconds_without_source, 2),
                             "frames_policy_applied": lost.applied})  # fmt: skip
    if config.stats_json:
        write_atomic(config.stats_json, json.dumps(stats, indent=2) + "\n")
    primary = sinks[0]
    if primary.failed_for_good:
        raise SwapcamError(f"the primary sink {primary.name} failed: {primary.errors[-1] if primary.errors else '?'}")
    return stats
