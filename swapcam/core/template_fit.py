"""How the alignment template in ``swapcam/core/template.py`` was made, kept runnable so it can be checked and re-made.

Generalised Procrustes analysis: landmarks of many near-frontal faces are aligned to their running mean by
similarity transforms fitted on the stable points, the mean is taken, mirrored onto itself (the template must be
left-right symmetric) and normalised so the face width (cheek to cheek, landmarks 234-454) is 1 and the centre
between forehead top (10) and chin (152) is the origin.

    python -m swapcam.core.template_fit IMAGE_OR_VIDEO...   # prints the constants for swapcam/core/template.py
"""

from __future__ import annotations

import sys

import numpy as np

from swapcam.core.align import similarity_umeyama, transform_points
from swapcam.core.template import ALIGN_POINTS, MIDLINE_POINTS, MIRROR_PAIRS, REFERENCE_POINTS


def procrustes_mean(shapes: np.ndarray, *, iterations: int = 10) -> np.ndarray:
    """(N, 478, 2) landmark sets -> (478, 2) mean shape, aligned on ALIGN_POINTS, in the first shape's frame."""
    idx = list(ALIGN_POINTS)
    mean = shapes[0].astype(np.float64)
    for _ in range(iterations):
        aligned = np.stack([transform_points(s, similarity_umeyama(s[idx], mean[idx])) for s in shapes])
        mean = aligned.mean(axis=0)
    return mean


def normalise(mean: np.ndarray) -> np.ndarray:
    """Mirror-symmetrise the mean shape and put it in template units (face width 1, face centre at 0)."""
    left, right, top, chin = REFERENCE_POINTS
    # Rotate so the cheek-to-cheek line is horizontal, then centre and scale.
    d = mean[right] - mean[left]
    angle = np.arctan2(d[1], d[0])
    c, s = np.cos(-angle), np.sin(-angle)
    pts = (mean - mean[left]) @ np.array([[c, s], [-s, c]])
    width = pts[right, 0] - pts[left, 0]
    centre = np.array([(pts[left, 0] + pts[right, 0]) / 2, (pts[top, 1] + pts[chin, 1]) / 2])
    pts = (pts - centre) / width
    sym = pts.copy()
    for a, b in MIRROR_PAIRS:
        pa, pb = pts[a], pts[b]
        sym[a] = ((pa[0] - pb[0]) / 2, (pa[1] + pb[1]) / 2)
        sym[b] = (-sym[a][0], sym[a][1])
    sym[list(MIDLINE_POINTS), 0] = 0.0
    return sym


def main(paths: list[str]) -> None:  # pragma: no cover - a maintenance tool
    from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig, interocular
    from swapcam.core.media_io import IMAGE_SUFFIXES, load_image, read_video
    from swapcam.core.messages import Frame

    shapes = []
    with FaceLandmarker(LandmarkerConfig(video=False)) as lm:
        for path in paths:
            frames = (
                [Frame(load_image(path), 0, 0.0)]
                if path.lower().endswith(tuple(IMAGE_SUFFIXES))
                else read_video(path, every=5)
            )
            for frame in frames:
                for face in lm(frame):
                    p = face.landmarks
                    # near-frontal only: the nose tip within 6% of the inter-ocular distance of the eyes' midline
                    mid = (p[133, 0] + p[362, 0]) / 2
                    if abs(p[1, 0] - mid) < 0.06 * interocular(p):
                        shapes.append(p)
    mean = normalise(procrustes_mean(np.stack(shapes)))
    print(f"# from {len(shapes)} near-frontal faces")
    for i in ALIGN_POINTS:
        print(f"    {i}: ({mean[i, 0]: .4f}, {mean[i, 1]: .4f}),")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
