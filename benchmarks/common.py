"""Helpers shared by the benchmarks: timing with percentiles, machine description, JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = Path(os.environ.get("SWAPCAM_SHARED_DATA", ROOT.parent / "shared" / "data"))


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
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import cv2
    import mediapipe

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "opencv": cv2.__version__,
        "mediapipe": mediapipe.__version__,
        "numpy": np.__version__,
    }


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d"), "machine": machine(), **results}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
