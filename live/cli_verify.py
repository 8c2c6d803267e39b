"""``swapcam verify``: does a video or image carry swapcam's invisible watermark? One line per file.

Exit status: 0 every file is marked, 1 a file is not marked (or shows no face), 2 a file could not be read.
Nothing here imports torch (landmarks, OpenCV and PyAV only)."""

from __future__ import annotations

import argparse
import json
import math
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="VIDEO_OR_IMAGE",
        help="video or image file(s) to check",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per file, with details per face",
    )
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="read at most this much of each video (default: 60; 0 reads all of it)")  # fmt: skip


def _line(v) -> str:
    from swapcam.core.watermark import Z_SEARCH, Z_THRESHOLD

    best = v.best
    if best is None:
        return f"{v.path}: not marked: no face found ({v.frames} frame{'s' if v.frames != 1 else ''} read)"
    z = best.reading.z
    false_alarm = math.erfc(z / math.sqrt(2))  # two-sided normal tail (as-is or mirrored): z this high unmarked
    faces = f"{v.frames_with_face} of {v.frames} frame{'s' if v.frames != 1 else ''} with a face"
    if v.marked:
        model = f"model id {v.model_id:04x}" if v.model_id is not None else "model id not readable"
        if best.reading.offset is not None:  # the search's null is measured, not normal (swapcam.core.watermark)
            dx, dy = best.reading.offset
            how = f"found {dx:+.0f},{dy:+.0f} block px off by the search, threshold {Z_SEARCH}"
        else:
            how = f"threshold {Z_THRESHOLD}, false-alarm chance {false_alarm:.0e}"
        return (f"{v.path}: MARKED as synthetic (swapcam watermark): confidence z={z:.1f} ({how}), {model}; "
                f"{faces}")  # fmt: skip
    return f"{v.path}: not marked: z={z:.1f} (threshold {Z_THRESHOLD}); {faces}"


def run(args: argparse.Namespace) -> int:
    from swapcam.live.verify import VerifyConfig, verify_file

    from swapcam.core.errors import SwapcamError

    config = VerifyConfig(max_seconds=args.max_seconds or None)
    status = 0
    for path in args.inputs:
        try:
            verdict = verify_file(path, config)
        except SwapcamError as exc:
            print(f"swapcam: error: {exc}", file=sys.stderr)
            status = 2
            continue
        print(json.dumps(verdict.as_dict()) if args.json else _line(verdict), flush=True)
        if not verdict.marked:
            status = max(status, 1)
    return status
