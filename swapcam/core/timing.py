"""Timing with percentiles: shared by the demo, the benchmarks and the live loop's stage telemetry
(swapcam.live.telemetry)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def percentiles(samples_s, qs: tuple[int, ...] = (50, 95)) -> dict[str, float]:
    """Percentiles ``qs`` and the mean, in milliseconds, of durations in seconds (zeros when there are none)."""
    ms = np.fromiter(samples_s, float) * 1000.0
    if ms.size == 0:
        return {**{f"p{q}_ms": 0.0 for q in qs}, "mean_ms": 0.0, "n": 0}
    return {
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in qs},
        "mean_ms": round(float(ms.mean()), 3),
        "n": int(ms.size),
    }


def time_calls(fn: Callable[[], object], *, repeat: int, warmup: int = 5) -> dict[str, float]:
    """Calls ``fn`` ``warmup`` times untimed (first calls pay one-off library set-up), then ``repeat`` times timed."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def process_age() -> float | None:
    """Seconds since this process started (interpreter start-up included), from /proc on Linux; None elsewhere."""
    import os

    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime, clock ticks after boot
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None
