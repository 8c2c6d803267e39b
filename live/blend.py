"""Pasting a swapped face crop back into the frame through the inverse alignment and a soft mask.

Only the face's region of interest is touched: the crop mask's support is mapped into the frame, and the warp and
the blend run over that rectangle alone. Pixels where the warped mask is 0 keep their exact input values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class BlendConfig:
    opacity: float = 1.0  # 0 leaves the frame untouched, 1 shows the swapped face fully inside the mask
    # Bicubic instead of bilinear warp of the face (the mask stays bilinear). Bilinear upscaling of a 128 px crop
    # loses about a quarter of what sharpening adds; bicubic keeps most of it (issue 15, benchmarks/bench_mouth.py).
    cubic: bool = False


@dataclass(frozen=True, slots=True)
class Roi:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0


EMPTY_ROI = Roi(0, 0, 0, 0)


def paste_roi(matrix: np.ndarray, crop_mask: np.ndarray, frame_shape: tuple[int, ...]) -> Roi:
    """The frame rectangle that the non-zero part of ``crop_mask`` covers once warped by ``matrix``'s inverse."""
    x, y, w, h = cv2.boundingRect(crop_mask)
    if w == 0 or h == 0:
        return EMPTY_ROI
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[x - 1, y - 1], [x + w, y - 1], [x - 1, y + h], [x + w, y + h]], np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    fh, fw = frame_shape[:2]
    return Roi(
        max(math.floor(pts[:, 0].min()), 0),
        max(math.floor(pts[:, 1].min()), 0),
        min(math.ceil(pts[:, 0].max()) + 1, fw),
        min(math.ceil(pts[:, 1].max()) + 1, fh),
    )


class Blender:
    """A stage: composites a crop into a frame **in place** and returns the rectangle it changed.

    Buffers grow to the largest frame seen and are reused, so a steady stream allocates nothing per frame.
    """

    def __init__(self, config: BlendConfig = BlendConfig()) -> None:
        self.config = config
        self._cap = (0, 0)

    def _buffers(self, h: int, w: int) -> None:
        if h > self._cap[0] or w > self._cap[1]:
            self._cap = (max(h, self._cap[0]), max(w, self._cap[1]))
            ch, cw = self._cap
            self._rgb = np.empty((ch, cw, 3), np.uint8)
            self._a8 = np.empty((ch, cw), np.uint8)
            self._a = np.empty((ch, cw), np.float32)
            self._b = np.empty((ch, cw), np.float32)

    def __call__(self, frame: np.ndarray, crop: np.ndarray, crop_mask: np.ndarray, matrix: np.ndarray) -> Roi:
        """frame: (H, W, 3) uint8, modified in place; crop: (S, S, 3) uint8 in the aligned space of ``matrix``
        (frame -> crop, (2, 3)); crop_mask: (S, S) uint8, 255 = the crop's pixel wins."""
        roi = paste_roi(matrix, crop_mask, frame.shape)
        if roi.empty or self.config.opacity <= 0:
            return EMPTY_ROI
        rh, rw = roi.y1 - roi.y0, roi.x1 - roi.x0
        self._buffers(rh, rw)
        # frame pixel (u + x0, v + y0) samples the crop at matrix @ (u + x0, v + y0, 1): warp with the forward
        # matrix, shifted to the ROI, and WARP_INVERSE_MAP (no inversion, no rounding of the inverse).
        m = matrix.copy()
        m[:, 2] += matrix[:, :2] @ (roi.x0, roi.y0)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        rgb_flags = (cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP) if self.config.cubic else flags
        rgb = cv2.warpAffine(crop, m, (rw, rh), dst=self._rgb[:rh, :rw], flags=rgb_flags,
                             borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        a8 = cv2.warpAffine(crop_mask, m, (rw, rh), dst=self._a8[:rh, :rw], flags=flags, borderValue=0)
        a = np.multiply(a8, np.float32(self.config.opacity / 255.0), out=self._a[:rh, :rw])
        b = np.subtract(np.float32(1.0), a, out=self._b[:rh, :rw])
        target = frame[roi.y0 : roi.y1, roi.x0 : roi.x1]
        cv2.blendLinear(rgb, target, a, b, dst=target)  # where a == 0: 0 * crop + 1 * frame, exactly the frame
        return roi

    def alpha(self, roi: Roi) -> np.ndarray:
        """(h, w) float32 view: the crop's weights over ``roi``, the rectangle the last call returned (valid until
        the next call)."""
        return self._a[: roi.y1 - roi.y0, : roi.x1 - roi.x0]
