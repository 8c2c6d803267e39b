"""How the live loop's face crop differs from the crop the model was trained on, into results/live_crop.json.

    python benchmarks/bench_live_crop.py [--clips person_a person_b webcam_720p person_c_glasses]

Extraction aligns every face from MediaPipe's raw tracked landmarks; the live loop aligns it from the same landmarks
after the One Euro filter (swapcam.core.one_euro). The two crops differ by a small similarity transform, different
on every frame: this is the only geometric difference the model meets live, so training augmentation should
sample it and nothing much wider (issue 15: "augmentation that matches the live crop exactly").

Per clip, every frame: the relative transform live crop <- training crop, split into rotation (degrees), scale
(relative) and shift (fraction of the crop side, at the crop's centre); the percentiles of each go to the JSON.
The face's width in frame pixels is recorded too (a face narrower than the model's crop face is upsampled live).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED_DATA, write_results  # noqa: E402
from swapcam.core.align import AlignSpec, alignment_matrix  # noqa: E402
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig, interocular  # noqa: E402
from swapcam.core.one_euro import OneEuroConfig, OneEuroFilter  # noqa: E402
from swapcam.core.mask import face_size  # noqa: E402
from swapcam.core.media_io import read_video  # noqa: E402

PCTS = (50, 90, 99, 100)


def relative_similarity(m_live: np.ndarray, m_train: np.ndarray, size: int) -> tuple[float, float, float, float]:
    """(rotation deg, scale - 1, shift x, shift y) of the map training-crop -> live-crop, shifts as fractions of
    the crop side measured at the crop's centre."""
    a = np.vstack([m_live, [0, 0, 1]]) @ np.linalg.inv(np.vstack([m_train, [0, 0, 1]]))
    rot = math.degrees(math.atan2(a[1, 0], a[0, 0]))
    scale = math.hypot(a[0, 0], a[1, 0]) - 1.0
    c = np.array([(size - 1) / 2, (size - 1) / 2, 1.0])
    moved = a[:2] @ c - c[:2]
    return rot, scale, float(moved[0] / size), float(moved[1] / size)


def measure_clip(path: Path, spec: AlignSpec) -> dict:
    rows, widths = [], []
    filt = OneEuroFilter(OneEuroConfig())
    with FaceLandmarker(LandmarkerConfig(video=True, smoothing=None)) as landmarker:
        for frame in read_video(path):
            faces = landmarker(frame)
            if not faces:
                filt.reset()
                continue
            raw = faces[0].landmarks
            smooth = filt(raw, frame.t_capture, scale=max(interocular(raw), 1.0))
            rows.append(relative_similarity(alignment_matrix(smooth, spec), alignment_matrix(raw, spec), spec.size))
            widths.append(face_size(raw))
    arr = np.abs(np.array(rows))
    out = {"frames": len(rows), "face_px": {f"p{p}": round(float(np.percentile(widths, p)), 1) for p in (5, 50, 95)}}
    for i, key in enumerate(("rotation_deg", "scale", "shift_x", "shift_y")):
        out[key] = {f"p{p}": round(float(np.percentile(arr[:, i], p)), 5) for p in PCTS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="+", default=["person_a", "person_b", "webcam_720p", "person_c_glasses"])
    args = parser.parse_args()
    spec = AlignSpec(size=128)
    clips = {}
    for name in args.clips:
        clips[name] = measure_clip(SHARED_DATA / "clips" / f"{name}.mp4", spec)
        print(name, clips[name])
    keys = ("rotation_deg", "scale", "shift_x", "shift_y")
    pooled = {key: max(c[key]["p99"] for c in clips.values()) for key in keys}
    path = write_results("live_crop", {"crop": 128, "clips": clips, "p99_worst_clip": pooled})
    print("p99, worst clip:", pooled, "->", path)


if __name__ == "__main__":
    main()
