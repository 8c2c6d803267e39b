"""Face masks from the face-oval landmarks, in crop space (training, blending) and in frame space (evaluation).

A mask is uint8, 255 inside the face and 0 outside, with a soft edge: the oval polygon is eroded (or dilated,
with a negative ``erode``) and then blurred. Both amounts are fractions of the face size (the square root of the
oval's area), so a mask looks the same for a face of 60 or 600 pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# MediaPipe Face Mesh's face-oval contour, in order around the face (forehead top 10, chin 152).
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
_OVAL_IDX = np.array(FACE_OVAL)
_SUBPIXEL_BITS = 4  # fillPoly with fixed-point vertices: 1/16 px


@dataclass(frozen=True, slots=True)
class MaskConfig:
    erode: float = 0.06  # shrink the oval by this fraction of the face size (negative: grow it)
    feather: float = 0.03  # Gaussian sigma of the soft edge, fraction of the face size

    def pixels(self, face_size: float) -> tuple[int, float]:
        """(erosion radius in px, negative to dilate; blur sigma in px) for a face of ``face_size`` px."""
        return round(self.erode * face_size), self.feather * face_size

    def reach(self, face_size: float) -> int:
        """How many pixels beyond the oval the mask can be non-zero (dilation plus the blur kernel's radius)."""
        radius, sigma = self.pixels(face_size)
        return max(0, _blur_radius(sigma) - radius) + 1


def oval(landmarks: np.ndarray) -> np.ndarray:
    """(36, 2) float32 face-oval polygon of (478, 2) landmarks, in the landmarks' space."""
    return landmarks[_OVAL_IDX]


def face_size(landmarks: np.ndarray) -> float:
    """Square root of the face-oval area, pixels: the scale masks are measured in."""
    return math.sqrt(abs(cv2.contourArea(oval(landmarks).astype(np.float32))))


def _blur_radius(sigma: float) -> int:
    return 0 if sigma <= 0 else math.ceil(3.0 * sigma)


@lru_cache(maxsize=64)
def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _draw(polygon: np.ndarray, out: np.ndarray, size: float, config: MaskConfig) -> np.ndarray:
    """Rasterises ``polygon`` (pixel coordinates of ``out``) into the uint8 ``out`` and softens it in place."""
    out.fill(0)
    pts = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)  # OpenCV: integer = pixel centre
    cv2.fillPoly(out, [pts], 255, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    radius, sigma = config.pixels(size)
    if radius > 0:
        cv2.erode(out, _disc(radius), dst=out)
    elif radius < 0:
        cv2.dilate(out, _disc(-radius), dst=out)
    k = _blur_radius(sigma)
    if k:
        cv2.GaussianBlur(out, (2 * k + 1, 2 * k + 1), sigma, dst=out, borderType=cv2.BORDER_CONSTANT)
    return out


def crop_mask(landmarks: np.ndarray, size: int, config: MaskConfig = MaskConfig(), *, out=None) -> np.ndarray:
    """(size, size) uint8 mask for crop-space (478, 2) landmarks; ``out`` is an optional buffer to fill."""
    if out is None:
        out = np.empty((size, size), np.uint8)
    return _draw(oval(landmarks), out, face_size(landmarks), config)


@dataclass(frozen=True, slots=True)
class FrameMask:
    """A frame-space mask stored only over its region of interest."""

    x0: int
    y0: int
    alpha: np.ndarray  # (h, w) uint8, the mask over frame[y0:y0+h, x0:x0+w]

    def full(self, shape: tuple[int, ...]) -> np.ndarray:
        """(H, W) uint8: the mask pasted into an empty frame of ``shape`` (for tests and evaluation)."""
        m = np.zeros(shape[:2], np.uint8)
        h, w = self.alpha.shape
        m[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.alpha
        return m


def frame_mask(landmarks: np.ndarray, frame_shape: tuple[int, ...], config: MaskConfig = MaskConfig()) -> FrameMask:
    """The mask of frame-space (478, 2) landmarks, computed only over the face's region of interest."""
    poly = oval(landmarks)
    size = face_size(landmarks)
    pad = config.reach(size) + 1
    h, w = frame_shape[:2]
    x0 = max(int(math.floor(poly[:, 0].min())) - pad, 0)
    y0 = max(int(math.floor(poly[:, 1].min())) - pad, 0)
    x1 = min(int(math.ceil(poly[:, 0].max())) + pad + 1, w)
    y1 = min(int(math.ceil(poly[:, 1].max())) + pad + 1, h)
    alpha = np.empty((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if alpha.size:
        _draw(poly - np.array([x0, y0], np.float32), alpha, size, config)
    return FrameMask(x0, y0, alpha)
