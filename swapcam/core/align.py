"""Alignment: a least-squares similarity transform from a face's stable landmarks onto the template.

``AlignSpec`` says where the template sits in the crop: ``size`` pixels square, ``coverage`` face widths across
(more coverage shows more of the head), and ``y_offset`` (fraction of the crop) moving the face down. A crop always
travels with the 2x3 matrix that made it (frame -> crop); paste-back (swapcam.live.blend) warps with that same
matrix and ``cv2.WARP_INVERSE_MAP``, so the inverse is never computed or rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.messages import AlignedFace, Face
from swapcam.core.template import ALIGN_POINTS, ALIGN_WEIGHTS, TEMPLATE_ID, template_points

_ALIGN_IDX = np.array(ALIGN_POINTS)


@dataclass(frozen=True, slots=True)
class AlignSpec:
    size: int = 256  # crop side, pixels
    coverage: float = 1.6  # crop side in face widths (cheek to cheek); 1.6 keeps the whole face oval with a margin
    y_offset: float = 0.0  # the face centre sits at size * (0.5 + y_offset) from the top
    template_id: str = TEMPLATE_ID

    def __post_init__(self) -> None:
        if self.size < 16 or not 0.5 <= self.coverage <= 4.0 or not -0.5 < self.y_offset < 0.5:
            raise SwapcamError(f"invalid alignment: size {self.size}, coverage {self.coverage}, y {self.y_offset}")

    def with_size(self, size: int) -> AlignSpec:
        return AlignSpec(size, self.coverage, self.y_offset, self.template_id)

    @property
    def face_width(self) -> float:
        """The face width (cheek to cheek) in crop pixels."""
        return self.size / self.coverage

    def template_in_crop(self) -> np.ndarray:
        """(K, 2) float64: where ``ALIGN_POINTS`` land in the crop, pixels."""
        pts = template_points() * self.face_width
        pts += (self.size - 1) / 2.0  # the crop's centre in pixel-centre coordinates
        pts[:, 1] += self.y_offset * self.size
        return pts

    def to_metadata(self) -> dict[str, str]:
        return {
            "align.size": str(self.size),
            "align.coverage": repr(self.coverage),
            "align.y_offset": repr(self.y_offset),
            "align.template_id": self.template_id,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> AlignSpec:
        try:
            spec = cls(
                int(meta["align.size"]),
                float(meta["align.coverage"]),
                float(meta["align.y_offset"]),
                meta["align.template_id"],
            )
        except (KeyError, ValueError) as exc:
            raise SwapcamError(f"alignment metadata missing or malformed ({exc})") from exc
        if spec.template_id != TEMPLATE_ID:
            raise SwapcamError(f"alignment template {spec.template_id!r} is not this version's {TEMPLATE_ID!r}")
        return spec


def similarity_umeyama(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(2, 3) float64 similarity (rotation, uniform scale, translation) minimising sum w |M src - dst|^2.

    src, dst: (K, 2) points; weights: (K,) non-negative, or None for equal weights. Umeyama, PAMI 1991.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    sc = src - mu_s
    dc = dst - mu_d
    cov = (dc * w[:, None]).T @ sc  # (2, 2)
    u, sv, vt = np.linalg.svd(cov)
    d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ np.diag(d) @ vt
    var_s = float(w @ (sc * sc).sum(axis=1))
    scale = float((sv * d).sum() / var_s) if var_s > 0 else 1.0
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies a (2, 3) affine matrix to (N, 2) points; returns (N, 2) in the points' dtype."""
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(points.dtype, copy=False)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """(2, 3) inverse of a (2, 3) affine matrix (crop -> frame for an alignment matrix): for mapping points back
    to the frame; images are pasted back with the forward matrix and ``WARP_INVERSE_MAP`` instead."""
    return cv2.invertAffineTransform(matrix)


def alignment_matrix(landmarks: np.ndarray, spec: AlignSpec) -> np.ndarray:
    """(2, 3) float64 frame -> crop matrix for (478, 2) frame landmarks."""
    return similarity_umeyama(landmarks[_ALIGN_IDX], spec.template_in_crop(), ALIGN_WEIGHTS)


def align_face(image: np.ndarray, face: Face, spec: AlignSpec, *, out: np.ndarray | None = None) -> AlignedFace:
    """Crops ``face`` from the (H, W, 3) uint8 frame ``image`` onto the template.

    ``out``, if given, is a (size, size, 3) uint8 buffer the crop is written into (the hot path reuses one).
    Outside the frame the crop repeats the edge pixels, so a face at the border still gives the model skin.
    """
    m = alignment_matrix(face.landmarks, spec)
    crop = cv2.warpAffine(
        image, m, (spec.size, spec.size), dst=out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return AlignedFace(
        face.frame_id, face.t_capture, face.track_id, crop, m, transform_points(face.landmarks, m)
    )
