"""Per-call latency of the face geometry core on real frames (p50/p95 ms), written to benchmarks/results/face.json.

    python benchmarks/bench_face.py [--frames 300]

Landmarks run in video mode (tracking, One Euro smoothing) over consecutive frames of clips/webcam_720p.mp4
scaled to 480p, 720p and 1080p. The per-face steps run at 720p with a 128 px crop: align (warp), mask (oval,
erode, feather), colour transfer (RCT) and blend (warp back and composite in the ROI), alone and together.
Goals on the 2-core machine: landmarks <= 5 ms p50 at 720p; align + mask + colour + blend <= 3 ms p50.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, percentiles, time_calls, write_results  # noqa: E402
from swapcam.core.align import AlignSpec, align_face  # noqa: E402
from swapcam.live.blend import Blender  # noqa: E402
from swapcam.live.color import ColorTransfer  # noqa: E402
from swapcam.live.composite import FaceCompositor  # noqa: E402
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig  # noqa: E402
from swapcam.core.mask import crop_mask  # noqa: E402
from swapcam.core.media_io import read_video  # noqa: E402
from swapcam.core.messages import Frame  # noqa: E402

SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=282, help="frames of the clip to use (default: all 282)")
    parser.add_argument("--passes", type=int, default=2, help="back-and-forth passes over the clip (default: 2)")
    parser.add_argument("--clip", default=str(SHARED_DATA / "clips" / "webcam_720p.mp4"))
    args = parser.parse_args()
    if not Path(args.clip).is_file():
        sys.exit(f"bench_face: sample clip not found: {args.clip} (see ../shared/data/SOURCES.md)")
    frames = [f.image for f, _ in zip(read_video(args.clip), range(args.frames))]

    results: dict[str, dict] = {"landmarks_video_mode": {}}
    for name, (w, h) in SIZES.items():
        scaled = [np.ascontiguousarray(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)) for f in frames]
        samples, found = [], 0
        with FaceLandmarker(LandmarkerConfig(video=True)) as lm:
            for i, img in enumerate(scaled[:10]):  # graph start-up and cache warm-up are not per-frame costs
                lm(Frame(img, i, i / 30))
            # Forwards then backwards through the clip, `--passes` times: a continuous motion, more samples.
            order = (list(range(10, len(scaled))) + list(range(len(scaled) - 1, 9, -1))) * args.passes
            for i, k in enumerate(order, 10):
                t0 = time.perf_counter()
                faces = lm(Frame(scaled[k], i, i / 30))
                samples.append(time.perf_counter() - t0)
                found += bool(faces)
        results["landmarks_video_mode"][name] = {**percentiles(samples), "found": found}
        print(f"landmarks {name:>5}: {results['landmarks_video_mode'][name]}")

    # Per-face steps at 720p, 128 px crop: the face of frame 0, and another frame's crop as the "swapped" face.
    w, h = SIZES["720p"]
    frame = np.ascontiguousarray(cv2.resize(frames[0], (w, h), interpolation=cv2.INTER_AREA))
    other = np.ascontiguousarray(cv2.resize(frames[len(frames) // 2], (w, h), interpolation=cv2.INTER_AREA))
    with FaceLandmarker(LandmarkerConfig(video=False)) as lm:
        face = lm(Frame(frame, 0, 0.0))[0]
        face_b = lm(Frame(other, 1, 0.0))[0]
    spec = AlignSpec(size=128)
    crop_buf = np.empty((128, 128, 3), np.uint8)
    mask_buf = np.empty((128, 128), np.uint8)
    swapped = align_face(other, face_b, spec).image
    aligned = align_face(frame, face, spec)
    mask = crop_mask(aligned.landmarks, 128)
    color, blender, compositor = ColorTransfer(), Blender(), FaceCompositor(128)
    recoloured = np.empty_like(swapped)
    canvas = frame.copy()
    repeat = 500

    def everything() -> None:
        a = align_face(frame, face, spec, out=crop_buf)
        compositor(canvas, a, swapped)

    steps = {
        "align": lambda: align_face(frame, face, spec, out=crop_buf),
        "mask": lambda: crop_mask(aligned.landmarks, 128, out=mask_buf),
        "colour_rct": lambda: color(swapped, aligned.image, mask, out=recoloured),
        "blend": lambda: blender(canvas, swapped, mask, aligned.matrix),
        "align_mask_colour_blend": everything,
    }
    results["per_face_720p_crop128"] = {}
    for name, fn in steps.items():
        results["per_face_720p_crop128"][name] = time_calls(fn, repeat=repeat)
        print(f"{name:>24}: {results['per_face_720p_crop128'][name]}")

    goals = {
        "landmarks_720p_p50_ms<=5": results["landmarks_video_mode"]["720p"]["p50_ms"] <= 5.0,
        "align_mask_colour_blend_p50_ms<=3": results["per_face_720p_crop128"]["align_mask_colour_blend"]["p50_ms"]
        <= 3.0,
    }
    print("goals:", goals)
    path = write_results("face", {"clip": Path(args.clip).name, **results, "goals_met": goals})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
