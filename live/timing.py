"""Timing with percentiles: shared by the demo, the benchmarks and (later) the live loop's stage telemetry."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds of a list of durations in seconds."""
    ms = np.asarray(samples_s) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
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
