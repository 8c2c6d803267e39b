"""Mouth pass-through (issue 15): let the input's own lips and mouth interior through the swapped face.

A two-decoder model can only draw the mouth openings its training footage showed; when the camera's person opens
the mouth wider (talking, laughing, surprise) the swap keeps the target's closed lips. This stage copies the input
crop's mouth over the swapped crop, in the model's aligned crop (before paste-back, so the mouth goes through the
same resampling and face mask as the rest of the swapped face: no second seam at the frame level):

    mask    the outer-lip contour of the input's landmarks, grown by ``grow`` and feathered by ``feather`` (both
            fractions of the face size, like the face mask's erode and feather)
    colour  the input's mouth is scaled per channel so that the skin just around it matches the swapped face's
            skin there (the swapped face was already colour-matched to the input; this removes what is left)
    blend   swapped * (1 - a) + input * a, a = mask * strength, in the mouth's bounding box only

Modes: ``off`` (the stage is not built; the output is byte-identical to before), ``on`` (strength 1 whenever the
mouth is open at all) and ``auto``: the mouth goes through only as far as the input opens it wider than the model
drew it. The model's drawn opening is read off its output, per frame and for free: inside the input's inner-lip
contour the input shows mouth interior (cavity, teeth, tongue). A model that drew the mouth open shows much the
same there; a model that kept the lips closed shows its lip colour. The output's mean difference from the input
there, over the difference a lip-coloured fill would make, is the share of the opening the model did not draw;
the input's opening (landmarks, inter-ocular distances) times the share drawn estimates the model's opening, and
the deficit (input minus model) sets the strength through a linear ramp, smoothed over frames per track. Re-running landmarks on the output would cost 5-10 ms a face; this costs < 0.1 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.mask import face_size
from swapcam.core.pose import mouth_opening

# MediaPipe Face Mesh lip contours, each in order around the mouth (FACEMESH_LIPS): outer from the right corner 61
# along the lower lip to the left corner 291 and back along the upper lip; inner likewise from 78 to 308.
OUTER_LIPS: tuple[int, ...] = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
INNER_LIPS: tuple[int, ...] = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
MODES: tuple[str, ...] = ("off", "on", "auto")
_OUTER = np.array(OUTER_LIPS)
_INNER = np.array(INNER_LIPS)
_SHIFT = 4  # fillPoly sub-pixel bits


@dataclass(frozen=True, slots=True)
class MouthConfig:
    mode: str = "off"  # off | on | auto
    grow: float = 0.03  # grow the outer-lip contour by this fraction of the face size (the skin around the lips)
    feather: float = 0.02  # Gaussian sigma of the mouth mask's edge, fraction of the face size
    closed: float = 0.03  # inter-ocular distances: a mouth opened less than this is left to the model (on and auto)
    ramp: float = 0.08  # auto: strength rises from 0 to 1 as the input opens this much wider than the model drew
    smoothing: float = 0.5  # auto: weight of the new frame's strength (1: no smoothing over frames)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SwapcamError(f"mouth must be one of {', '.join(MODES)}, not {self.mode!r}")


class MouthPassThrough:
    """A stage: ``(swapped crop, input crop, crop landmarks) -> swapped crop with the input's mouth, in place``.

    Buffers for the mouth's bounding box are allocated once per crop size; a frame allocates only the few small
    arrays OpenCV returns for the contours' statistics.
    """

    def __init__(self, size: int, config: MouthConfig = MouthConfig()) -> None:
        self.config = config
        self.size = size
        self._mask = np.empty((size, size), np.uint8)  # the mouth mask over the ROI (top-left part used)
        self._inner = np.empty((size, size), np.uint8)  # auto: the input's inner-lip area
        self._lips = np.empty((size, size), np.uint8)  # auto: the lips alone (outer minus inner contour)
        self._ring = np.empty((size, size), np.uint8)  # the skin around the mask, for the colour match
        self._src = np.empty((size, size, 3), np.uint8)  # the input's mouth, colour-matched
        self._a = np.empty((size, size), np.float32)
        self._b = np.empty((size, size), np.float32)
        self._diff = np.empty((size, size, 3), np.uint8)
        self._strength: dict[int, float] = {}  # auto: smoothed strength per track
        self.last_strength = 0.0  # the strength used on the last face (0: nothing passed through)

    def __call__(self, face: np.ndarray, source: np.ndarray, landmarks: np.ndarray, track_id: int = 0) -> float:
        """face: (S, S, 3) uint8 swapped crop, changed in place; source: (S, S, 3) uint8 input crop; landmarks:
        (478, 2) float32, crop pixels. Returns the strength used (0..1)."""
        cfg = self.config
        opening = mouth_opening(landmarks)
        if opening < cfg.closed:
            self._strength[track_id] = 0.0
            self.last_strength = 0.0
            return 0.0
        scale = face_size(landmarks)
        grow = max(1, round(cfg.grow * scale))
        sigma = cfg.feather * scale
        k = math.ceil(3 * sigma) if sigma > 0 else 0
        ring = max(2, round(0.04 * scale))  # skin sampled just outside the mask for the colour match
        outer = landmarks[_OUTER]
        pad = grow + k + ring + 1
        x0, y0 = np.floor(outer.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + pad + 1
        s = self.size
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, s), min(y1, s)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return 0.0
        h, w = y1 - y0, x1 - x0
        origin = np.array([x0, y0], np.float32)
        f_roi, s_roi = face[y0:y1, x0:x1], source[y0:y1, x0:x1]

        mask = self._mask[:h, :w]
        mask.fill(0)
        cv2.fillPoly(mask, [np.round((outer - origin) * (1 << _SHIFT)).astype(np.int32)], 255, cv2.LINE_8, _SHIFT)
        strength = 1.0
        if cfg.mode == "auto":
            strength = self._auto_strength(f_roi, s_roi, mask, landmarks[_INNER] - origin, opening, track_id)
        self.last_strength = strength
        if strength <= 0.0:
            return 0.0

        cv2.dilate(mask, _disc(grow), dst=mask)
        ring_mask = cv2.dilate(mask, _disc(ring + k), dst=self._ring[:h, :w])
        np.subtract(ring_mask, mask, out=ring_mask)  # 255 on a band around the hard mask: skin near the mouth
        if k:
            cv2.GaussianBlur(mask, (2 * k + 1, 2 * k + 1), sigma, dst=mask, borderType=cv2.BORDER_CONSTANT)
        mu_f = cv2.mean(f_roi, ring_mask)[:3]
        mu_s = cv2.mean(s_roi, ring_mask)[:3]
        gain = tuple(min(max(f / max(m, 1.0), 0.6), 1.6) for f, m in zip(mu_f, mu_s)) + (0.0,)
        src = cv2.multiply(s_roi, gain, dst=self._src[:h, :w], dtype=cv2.CV_8U)  # saturating
        a = np.multiply(mask, np.float32(strength / 255.0), out=self._a[:h, :w])
        b = np.subtract(np.float32(1.0), a, out=self._b[:h, :w])
        cv2.blendLinear(src, f_roi, a, b, dst=f_roi)
        return strength

    def _auto_strength(self, f_roi, s_roi, outer_mask, inner, opening, track_id) -> float:
        """How far to let the mouth through: the input's opening minus the model's, over the ramp (smoothed)."""
        cfg = self.config
        h, w = outer_mask.shape
        inner_mask = self._inner[:h, :w]
        inner_mask.fill(0)
        cv2.fillPoly(inner_mask, [np.round(inner * (1 << _SHIFT)).astype(np.int32)], 255, cv2.LINE_8, _SHIFT)
        lips = np.subtract(outer_mask, inner_mask, out=self._lips[:h, :w])
        # How much of the input's mouth interior the model reproduced: the output's mean difference from the input
        # over the inner-lip area, against the difference a closed mouth (the output's own lip colour all over)
        # would make. ~0: the model drew the same open mouth; ~1: it kept the lips closed there.
        diff = self._diff[:h, :w]
        d_model = sum(cv2.mean(cv2.absdiff(f_roi, s_roi, dst=diff), inner_mask)[:3])
        lip_colour = cv2.mean(f_roi, lips)
        d_closed = sum(cv2.mean(cv2.absdiff(s_roi, lip_colour, dst=diff), inner_mask)[:3])
        # An interior that looks like lips anyway (tongue, a thin gap) tells nothing: let it through.
        drawn = 1.0 - min(d_model / d_closed, 1.0) if d_closed > 30.0 else 0.0
        model_opening = opening * drawn
        target = min(max((opening - model_opening) / cfg.ramp, 0.0), 1.0)
        previous = self._strength.get(track_id, target)
        strength = previous + cfg.smoothing * (target - previous)
        if len(self._strength) > 64:  # tracks come and go: forget them rather than grow without bound
            self._strength.clear()
        self._strength[track_id] = strength
        return strength


_DISCS: dict[int, np.ndarray] = {}


def _disc(radius: int) -> np.ndarray:
    disc = _DISCS.get(radius)
    if disc is None:
        disc = _DISCS[radius] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return disc
