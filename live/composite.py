"""The back half of a swap: colour-match a swapped crop to the face it replaces, mask it, blend it into the frame.

The live loop feeds it the model's output; ``FacePaster`` feeds it a fixed face (the demo before a model exists).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from swapcam.core.align import AlignSpec, align_face
from swapcam.live.blend import BlendConfig, Blender, Roi
from swapcam.live.color import ColorConfig, ColorTransfer
from swapcam.live.mouth import MouthConfig, MouthPassThrough
from swapcam.live.sharpen import SharpenConfig, Sharpener
from swapcam.core.errors import SwapcamError
from swapcam.core.watermark import MarkCall
from swapcam.core.mask import MaskConfig, crop_mask
from swapcam.core.messages import AlignedFace, Face


@dataclass(frozen=True, slots=True)
class PlacementConfig:
    """Nudges of the pasted face (the panel's face scale and x/y offset, issue 13)."""

    scale: float = 1.0  # size of the pasted face about its centre
    x: float = 0.0  # shift right, as a fraction of the aligned crop's width in the frame (negative: left)
    y: float = 0.0  # shift down, same unit

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.x == 0.0 and self.y == 0.0


def placed_matrix(matrix: np.ndarray, size: int, placement: PlacementConfig) -> np.ndarray:
    """The frame -> crop matrix that pastes the crop scaled by ``placement.scale`` about its centre and shifted
    by (x, y) crop widths: M' = M o T^-1 with T(p) = c + s (p - c) + d, c the crop centre in the frame."""
    a, t = matrix[:, :2], matrix[:, 2]
    inv = cv2.invertAffineTransform(matrix)
    c = inv[:, :2] @ (size / 2, size / 2) + inv[:, 2]  # the crop's centre, frame pixels
    width = size / math.sqrt(abs(np.linalg.det(a)))  # the crop's width in the frame, pixels
    d = np.array((placement.x, placement.y)) * width
    s = placement.scale
    out = np.empty((2, 3), np.float64)
    out[:, :2] = a / s
    out[:, 2] = t + a @ (c - (c + d) / s)
    return out


@dataclass(frozen=True, slots=True)
class CompositeConfig:
    mask: MaskConfig = field(default_factory=MaskConfig)
    color: ColorConfig = field(default_factory=ColorConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    mouth: MouthConfig = field(default_factory=MouthConfig)  # mouth pass-through (issue 15)
    sharpen: SharpenConfig = field(default_factory=SharpenConfig)


class FaceCompositor:
    """A stage: ``(frame, aligned original, swapped crop[, model mask]) -> frame changed in place``."""

    def __init__(self, size: int, config: CompositeConfig = CompositeConfig(), *,
                 mark: Callable[..., None] | None = None) -> None:  # fmt: skip
        self.config = config
        self.size = size
        self.mark = mark  # marks the swapped face in the frame, after the blend (swapcam.core.watermark)
        self._color = ColorTransfer(config.color)
        self._blend = Blender(config.blend)
        self._mask = np.empty((size, size), np.uint8)
        self._recoloured = np.empty((size, size, 3), np.uint8)
        self._mouth = MouthPassThrough(size, config.mouth) if config.mouth.mode != "off" else None
        self._sharpen = Sharpener(size, config.sharpen) if config.sharpen.amount > 0 else None

    def __call__(
        self, frame: np.ndarray, aligned: AlignedFace, swapped: np.ndarray, model_mask: np.ndarray | None = None,
        deferred: list[MarkCall] | None = None,
    ) -> Roi:
        """frame: (H, W, 3) uint8, changed in place; swapped: (S, S, 3) uint8 RGB aligned like ``aligned``;
        model_mask: optional (S, S) uint8 from the model, intersected with the landmark mask; deferred: the mark is
        not drawn but what it needs is appended here, for ``swapcam.live.mark_track`` to draw once the frame is
        finished."""
        mask = crop_mask(aligned.landmarks, self.size, self.config.mask, out=self._mask)
        if model_mask is not None:
            np.minimum(mask, model_mask, out=mask)
        recoloured = self._color(swapped, aligned.image, mask, out=self._recoloured)
        if self._mouth is not None:  # the input's own mouth over the swapped one (issue 15)
            self._mouth(recoloured, aligned.image, aligned.landmarks, aligned.track_id)
        if self._sharpen is not None:
            self._sharpen(recoloured, mask)
        placement = self.config.placement
        matrix = aligned.matrix if placement.identity else placed_matrix(aligned.matrix, self.size, placement)
        roi = self._blend(frame, recoloured, mask, matrix)
        if self.mark is not None and not roi.empty:  # the invisible watermark, on the pasted face at frame resolution
            if deferred is not None:
                deferred.append(MarkCall(matrix, self._blend.alpha(roi).copy(), (roi.x0, roi.y0), aligned.track_id))
            else:
                self.mark(frame, matrix, self._blend.alpha(roi), (roi.x0, roi.y0), aligned.track_id)
        return roi


class FacePaster:
    """Pastes one still face onto every face of a frame: align, colour transfer, mask, blend. No model involved;
    it shows what the geometry core does and is what ``swapcam faces --paste`` and the demo run."""

    def __init__(self, source: AlignedFace, spec: AlignSpec, config: CompositeConfig = CompositeConfig()) -> None:
        if source.image.shape[:2] != (spec.size, spec.size):
            raise SwapcamError("the pasted face was aligned at another size")
        self.source = source
        self.spec = spec
        self._composite = FaceCompositor(spec.size, config)
        self._crop = np.empty((spec.size, spec.size, 3), np.uint8)

    def __call__(self, image: np.ndarray, faces: tuple[Face, ...]) -> np.ndarray:
        """Returns a copy of the (H, W, 3) uint8 ``image`` with ``faces`` replaced by the source face."""
        out = image.copy()
        for face in faces:
            aligned = align_face(image, face, self.spec, out=self._crop)
            self._composite(out, aligned, self.source.image)
        return out
