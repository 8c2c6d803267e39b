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
