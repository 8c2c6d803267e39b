"""``swapcam eval``'s detail measure (issue 15): Laplacian variance inside the face, output over input, with both
faces resampled onto the model's crop, on a real portrait."""

from __future__ import annotations

import json

import cv2
import numpy as np
from swapcam.evaluate.metrics import FrameMeasurements, face_detail
from swapcam.evaluate.report import BackgroundStats, EvalReport

from swapcam.core.align import AlignSpec


def test_detail_is_one_for_the_input_below_for_a_blur_above_for_a_sharpened_face(astronaut, detect):
    face = detect(astronaut)[0]
    spec = AlignSpec(size=128)
    d_in, d_same = face_detail(astronaut, astronaut.copy(), face, spec)
    assert d_in > 10 and d_same == d_in
    # A blur of what a 40 px face would show (the "smudge") keeps a small share of the detail.
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3.0)
    _, d_blur = face_detail(astronaut, blurred, face, spec)
    assert d_blur / d_in < 0.3
    sharp = cv2.addWeighted(astronaut, 1.8, cv2.GaussianBlur(astronaut, (0, 0), 1.5), -0.8, 0)
    _, d_sharp = face_detail(astronaut, sharp, face, spec)
    assert d_sharp / d_in > 1.2
    # The crop decides the scale: the same blur at a 64 px crop (the face spans fewer pixels) loses less.
    d_in64, d_blur64 = face_detail(astronaut, blurred, face, AlignSpec(size=64))
    assert d_blur64 / d_in64 > d_blur / d_in


def test_the_report_carries_the_median_ratio(astronaut, detect):
    face = detect(astronaut)[0]
    measure = FrameMeasurements(AlignSpec(size=128))
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 3.0)
    for out in (astronaut, blurred, blurred):  # median of (1, r, r) is r
        measure.add(astronaut, out, face, face)
    detail = measure.detail()
    d_in, d_blur = face_detail(astronaut, blurred, face, AlignSpec(size=128))
    assert detail.frames == 3 and detail.crop == 128
    assert np.isclose(detail.ratio, d_blur / d_in, rtol=1e-6)
    report = EvalReport(video="v", output="o", frames=3, faces_in=3, faces_out=3, seconds=1.0, every=1,
                        face_ssim=measure.mean_face_ssim(), identity=None, pose=None, expression=None,
                        background=BackgroundStats(0.0, 0.0, 0.0), jitter=None, detail=detail)  # fmt: skip
    assert json.loads(report.to_json())["detail"]["ratio"] == detail.ratio
    row = [r for r in report.table() if r.startswith("detail")]
    assert row and f"{100 * detail.ratio:.0f} %" in row[0]
