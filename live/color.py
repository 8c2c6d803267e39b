"""Colour transfer on a face crop: make the swapped face take the lighting and skin tone of the face it replaces.

- ``rct``: Reinhard et al. 2001, per-channel mean and standard deviation matched in CIE L*a*b*.
- ``lct``: linear colour transfer, matching the mean and the full 3x3 covariance in RGB with the symmetric
  Monge-Kantorovich map (Pitie and Kokaram 2007), a steadier cousin of DeepFaceLab's lct.

Statistics come from the masked face only (mask >= 128), so hair, background and the crop's replicated border do
not bias them. Both work on float32 buffers that a ``ColorTransfer`` stage allocates once per crop size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from swapcam.core.errors import SwapcamError

Mode = Literal["rct", "lct", "none"]
MODES: tuple[str, ...] = ("rct", "lct", "none")
_EPS = 1e-3


@dataclass(frozen=True, slots=True)
class ColorConfig:
    mode: Mode = "rct"
    max_gain: float = 4.0  # clamp on the std (rct) or eigenvalue (lct) ratio, against degenerate statistics


class ColorTransfer:
    """A stage: ``(source, target, mask) -> source recoloured to the target's masked statistics``."""

    def __init__(self, config: ColorConfig = ColorConfig()) -> None:
        if config.mode not in MODES:
            raise SwapcamError(f"unknown colour transfer {config.mode!r}; choose one of {', '.join(MODES)}")
        self.config = config
        self._shape: tuple[int, ...] | None = None
        if config.mode == "rct":  # OpenCV builds its float Lab tables on first use (~75 ms): not on a live frame
            probe = np.zeros((1, 1, 3), np.float32)
            cv2.cvtColor(cv2.cvtColor(probe, cv2.COLOR_RGB2Lab), cv2.COLOR_Lab2RGB)

    def _buffers(self, shape: tuple[int, ...]) -> None:
        if self._shape != shape:  # one allocation per crop size, not per frame
            self._shape = shape
            self._src = np.empty(shape, np.float32)
            self._tgt = np.empty(shape, np.float32)
            self._bool = np.empty(shape[:2], bool)

    def __call__(self, source: np.ndarray, target: np.ndarray, mask: np.ndarray, *, out=None) -> np.ndarray:
        """source, target: (S, S, 3) uint8 RGB; mask: (S, S) uint8. Returns (S, S, 3) uint8 (``out`` if given)."""
        if self.config.mode == "none":
            if out is None:
                return source.copy()
            np.copyto(out, source)
            return out
        self._buffers(source.shape)
        np.multiply(source, np.float32(1 / 255), out=self._src)
        np.multiply(target, np.float32(1 / 255), out=self._tgt)
        m = np.greater_equal(mask, 128, out=self._bool)
        if not m.any():
            m = np.ones_like(m)
        if self.config.mode == "rct":
            result = self._rct(m)
        else:
            result = self._lct(m)
        np.clip(result, 0.0, 1.0, out=result)
        return cv2.convertScaleAbs(result, dst=out, alpha=255.0)  # rounds and saturates to uint8

    def _rct(self, m: np.ndarray) -> np.ndarray:
        src = cv2.cvtColor(self._src, cv2.COLOR_RGB2Lab, dst=self._src)  # L in [0, 100], a and b in about +-127
        tgt = cv2.cvtColor(self._tgt, cv2.COLOR_RGB2Lab, dst=self._tgt)
        m8 = m.view(np.uint8)
        mu_s, sd_s = (v.ravel() for v in cv2.meanStdDev(src, mask=m8))
        mu_t, sd_t = (v.ravel() for v in cv2.meanStdDev(tgt, mask=m8))
        gain = np.clip(sd_t / np.maximum(sd_s, _EPS), 1.0 / self.config.max_gain, self.config.max_gain)
        src -= mu_s.astype(np.float32)
        src *= gain.astype(np.float32)
        src += mu_t.astype(np.float32)
        return cv2.cvtColor(src, cv2.COLOR_Lab2RGB, dst=src)

    def _lct(self, m: np.ndarray) -> np.ndarray:
        s = self._src[m].astype(np.float64)  # (N, 3)
        t = self._tgt[m].astype(np.float64)
        mu_s, mu_t = s.mean(axis=0), t.mean(axis=0)
        cov_s = np.cov(s, rowvar=False) + _EPS * np.eye(3)
        cov_t = np.cov(t, rowvar=False) + _EPS * np.eye(3)
        # A = Cs^-1/2 (Cs^1/2 Ct Cs^1/2)^1/2 Cs^-1/2 is symmetric and maps cov_s exactly onto cov_t.
        rs, ri = _sqrtm(cov_s), _sqrtm(cov_s, inverse=True)
        a = ri @ _sqrtm(rs @ cov_t @ rs) @ ri
        w, v = np.linalg.eigh((a + a.T) / 2)  # clamp the gain along each principal axis
        g = self.config.max_gain
        a = v @ np.diag(np.clip(w, 1.0 / g, g)) @ v.T
        affine = np.hstack([a, (mu_t - a @ mu_s)[:, None]]).astype(np.float32)  # (3, 4)
        return cv2.transform(self._src, affine, dst=self._src)


def _sqrtm(cov: np.ndarray, *, inverse: bool = False) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, _EPS * _EPS)
    return v @ np.diag(w ** (-0.5 if inverse else 0.5)) @ v.T


def masked_lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std), each (3,) float64, of a (S, S, 3) uint8 RGB image in float L*a*b* over mask >= 128."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    mean, std = cv2.meanStdDev(lab, mask=(mask >= 128).astype(np.uint8))
    return mean.ravel(), std.ravel()
