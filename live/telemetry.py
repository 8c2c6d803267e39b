"""Live-loop telemetry: per-stage durations and capture->sink latency as percentiles, frame counters, fps.

Samples live in bounded ring buffers (the last ``window`` per series), so a run of any length uses fixed memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from swapcam.core.timing import percentiles, process_age


class Telemetry:
    def __init__(self, window: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.stages: dict[str, deque] = {}  # durations in seconds, by stage; "latency <sink>": capture -> written
        self._primary: str | None = None  # the first sink: its latency is the loop's capture -> sink latency
        self.counters: dict[str, int] = {"frames_in": 0, "frames_processed": 0, "frames_out": 0, "faces": 0,
                                         "frames_with_face": 0, "frames_held": 0, "frames_repeated": 0,
                                         "source_losses": 0, "reconnects": 0}  # fmt: skip
        self.t_start = time.perf_counter()
        self.t_first_swapped_out: float | None = None  # perf_counter when the primary sink first wrote a swap
        self._recent: deque = deque(maxlen=120)  # perf_counter of recent processed frames, for the fps shown live

    def stage(self, name: str, seconds: float) -> None:
        with self._lock:
            self.stages.setdefault(name, deque(maxlen=self._window)).append(seconds)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def processed(self, faces: int) -> None:
        with self._lock:
            self.counters["frames_processed"] += 1
            self.counters["faces"] += faces
            self.counters["frames_with_face"] += faces > 0
            self._recent.append(time.perf_counter())

    def delivered(self, sink: str, t_capture: float, *, primary: bool, fresh: bool = True) -> None:
        """A sink has written a frame; the ``primary`` (first) sink's frames count as frames out. Only ``fresh``
        frames (not a repeated or held one) add a capture -> sink latency sample."""
        latency = time.perf_counter() - t_capture
        with self._lock:
            if fresh:
                self.stages.setdefault(f"latency {sink}", deque(maxlen=self._window)).append(latency)
            if primary:
                self._primary = sink
                self.counters["frames_out"] += 1
                if self.t_first_swapped_out is None and fresh and self.counters["frames_with_face"]:
                    self.t_first_swapped_out = time.perf_counter()

    def _latency(self) -> list[float]:
        return list(self.stages.get(f"latency {self._primary}", ()))

    def fps_now(self) -> float:
        with self._lock:
            r = list(self._recent)
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def summary(self, extra: dict | None = None) -> dict:
        with self._lock:
            elapsed = time.perf_counter() - self.t_start
            stages = {k: percentiles(v) for k, v in self.stages.items()}
            return {
                **self.counters,
                **(extra or {}),
                "elapsed_s": round(elapsed, 2),
                "fps": round(self.counters["frames_processed"] / elapsed, 2) if elapsed > 0 else 0.0,
                "latency_capture_to_sink": percentiles(self._latency(), (50, 95, 99)),
                # seconds from the process's start (interpreter included) to the first swapped frame written
                "first_swapped_frame_s": self._first_swapped_age(),
                "stages": stages,
            }

    def _first_swapped_age(self) -> float | None:
        age = process_age()
        if self.t_first_swapped_out is None or age is None:
            return None
        return round(age - (time.perf_counter() - self.t_first_swapped_out), 3)

    def status_line(self, dropped: int = 0) -> str:
        with self._lock:
            lat = percentiles(self._latency()[-300:])
            c = dict(self.counters)
        return (f"{self.fps_now():5.1f} fps | in {c['frames_in']} out {c['frames_out']} "
                f"dropped {dropped} | faces {c['faces']} | latency p50 {lat['p50_ms']:.1f} "
                f"p95 {lat['p95_ms']:.1f} ms")  # fmt: skip
