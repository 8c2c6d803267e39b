"""Live-loop telemetry: per-stage durations and capture->sink latency as percentiles, frame counters, fps.

Samples live in bounded ring buffers (the last ``window`` per series) of float64 allocated, and touched, when the
series starts, so a run of any length uses fixed memory from its first frames on. (A deque of Python floats grew
by 32 bytes a sample until it was full: ~0.6 MB a series over the first 11 minutes at 30 fps.)
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from swapcam.core.timing import percentiles, process_age


class Samples:
    """The last ``capacity`` float samples of one series, in a preallocated ring."""

    __slots__ = ("_buf", "_n", "_i")

    def __init__(self, capacity: int) -> None:
        self._buf = np.full(capacity, np.nan)  # full(): every page touched now, not as the ring fills
        self._n = self._i = 0

    def append(self, value: float) -> None:
        self._buf[self._i] = value
        self._i = (self._i + 1) % len(self._buf)
        self._n = min(self._n + 1, len(self._buf))

    def __len__(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """Every sample held, oldest first (a copy)."""
        if self._n < len(self._buf):
            return self._buf[: self._n].copy()
        return np.concatenate((self._buf[self._i :], self._buf[: self._i]))

    def latest(self, n: int) -> np.ndarray:
        """The newest ``n`` samples (fewer if fewer are held), oldest first (a copy)."""
        n = min(n, self._n)
        idx = (self._i - n + np.arange(n)) % len(self._buf)
        return self._buf[idx]


class Telemetry:
    def __init__(self, window: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._window = window
        self.stages: dict[str, Samples] = {}  # durations in seconds, by stage; "latency <sink>": capture -> written
        self._primary: str | None = None  # the first sink: its latency is the loop's capture -> sink latency
        self.counters: dict[str, int] = {"frames_in": 0, "frames_processed": 0, "frames_out": 0, "faces": 0,
                                         "frames_with_face": 0, "frames_held": 0, "frames_repeated": 0,
                                         "source_losses": 0, "reconnects": 0}  # fmt: skip
        self.t_start = time.perf_counter()
        self.t_first_swapped_out: float | None = None  # perf_counter when the primary sink first wrote a swap
        self._recent: deque = deque(maxlen=120)  # perf_counter of recent processed frames, for the fps shown live

    def stage(self, name: str, seconds: float) -> None:
        with self._lock:
            series = self.stages.get(name)
            if series is None:
                series = self.stages[name] = Samples(self._window)
            series.append(seconds)

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
                key = f"latency {sink}"
                series = self.stages.get(key)
                if series is None:
                    series = self.stages[key] = Samples(self._window)
                series.append(latency)
            if primary:
                self._primary = sink
                self.counters["frames_out"] += 1
                if self.t_first_swapped_out is None and fresh and self.counters["frames_with_face"]:
                    self.t_first_swapped_out = time.perf_counter()

    def _latency(self, last: int | None = None) -> np.ndarray:
        series = self.stages.get(f"latency {self._primary}")
        if series is None:
            return np.empty(0)
        return series.values() if last is None else series.latest(last)

    def fps_now(self) -> float:
        with self._lock:
            r = list(self._recent)
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def summary(self, extra: dict | None = None) -> dict:
        with self._lock:
            elapsed = time.perf_counter() - self.t_start
            stages = {k: percentiles(v.values()) for k, v in self.stages.items()}
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
            lat = percentiles(self._latency(300))
            c = dict(self.counters)
        return (f"{self.fps_now():5.1f} fps | in {c['frames_in']} out {c['frames_out']} "
                f"dropped {dropped} | faces {c['faces']} | latency p50 {lat['p50_ms']:.1f} "
                f"p95 {lat['p95_ms']:.1f} ms")  # fmt: skip
