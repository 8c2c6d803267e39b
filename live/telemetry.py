"""Live-loop telemetry: per-stage durations and capture->sink latency as percentiles, frame counters, fps.

Samples live in bounded ring buffers (the last ``window`` per series), so a run of any length uses fixed memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


def _pcts(samples_s, qs: tuple[int, ...]) -> dict[str, float]:
    if not samples_s:
        return {f"p{q}_ms": 0.0 for q in qs}
    ms = np.fromiter(samples_s, float) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in qs}


class Telemetry:
    def __init__(self, window: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.stages: dict[str, deque] = {}
        self.latency: deque = deque(maxlen=window)  # capture -> sink write done, seconds
        self.counters: dict[str, int] = {"frames_in": 0, "frames_processed": 0, "frames_out": 0, "faces": 0,
                                         "frames_with_face": 0}  # fmt: skip
        self.t_start = time.perf_counter()
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

    def delivered(self, t_capture: float) -> None:
        """A frame reached a sink (called once per frame, by the first sink that wrote it)."""
        now = time.perf_counter()
        with self._lock:
            self.counters["frames_out"] += 1
            self.latency.append(now - t_capture)

    def fps_now(self) -> float:
        with self._lock:
            r = list(self._recent)
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def summary(self, extra: dict | None = None) -> dict:
        with self._lock:
            elapsed = time.perf_counter() - self.t_start
            stages = {k: _pcts(list(v), (50, 95)) for k, v in self.stages.items()}
            return {
                **self.counters,
                **(extra or {}),
                "elapsed_s": round(elapsed, 2),
                "fps": round(self.counters["frames_processed"] / elapsed, 2) if elapsed > 0 else 0.0,
                "latency_capture_to_sink": _pcts(list(self.latency), (50, 95, 99)),
                "stages": stages,
            }

    def status_line(self, dropped: int = 0) -> str:
        with self._lock:
            lat = _pcts(list(self.latency)[-300:], (50, 95))
            c = dict(self.counters)
        return (f"{self.fps_now():5.1f} fps | in {c['frames_in']} out {c['frames_out']} "
                f"dropped {dropped} | faces {c['faces']} | latency p50 {lat['p50_ms']:.1f} "
                f"p95 {lat['p95_ms']:.1f} ms")  # fmt: skip
