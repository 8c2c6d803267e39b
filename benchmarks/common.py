"""Helpers shared by the benchmarks: timing with percentiles, machine description, JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from swapcam.core.timing import percentiles, time_calls  # noqa: F401  (re-exported for the benchmarks)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = Path(os.environ.get("SWAPCAM_SHARED_DATA", ROOT.parent / "shared" / "data"))


# The vector extensions that decide this machine's speed: the same 2-core "AMD EPYC" has come both with AVX-512
# (VNNI: int8 models run about 2x faster than fp32) and with AVX2 only (fp32 2-4x slower, int8 barely faster)
SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine() -> dict[str, object]:
    cpu, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():  # the first processor's lines: model, then flags
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    import cv2
    import mediapipe

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": [f for f in SIMD_FLAGS if f in flags],
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
