"""The back half of a swap: colour-match a swapped crop to the face it replaces, mask it, blend it into the frame.

The live loop feeds it the model's output; ``FacePaster`` feeds it a fixed face (the demo before a model exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from swapcam.core.align import AlignSpec, align_face
from swapcam.live.blend import BlendConfig, Blender, Roi
from swapcam.live.color import ColorConfig, ColorTransfer
from swapcam.core.errors import SwapcamError
from swapcam.core.mask import MaskConfig, crop_mask
from swapcam.core.messages import AlignedFace, Face


@dataclass(frozen=True, slots=True)
class CompositeConfig:
    mask: MaskConfig = field(default_factory=MaskConfig)
    color: ColorConfig = field(default_factory=ColorConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)


class FaceCompositor:
    """A stage: ``(frame, aligned original, swapped crop[, model mask]) -> frame changed in place``."""

    def __init__(self, size: int, config: CompositeConfig = CompositeConfig()) -> None:
        self.config = config
        self.size = size
        self._color = ColorTransfer(config.color)
        self._blend = Blender(config.blend)
        self._mask = np.empty((size, size), np.uint8)
        self._recoloured = np.empty((size, size, 3), np.uint8)

    def __call__(
        self, frame: np.ndarray, aligned: AlignedFace, swapped: np.ndarray, model_mask: np.ndarray | None = None
    ) -> Roi:
        """frame: (H, W, 3) uint8, changed in place; swapped: (S, S, 3) uint8 RGB aligned like ``aligned``;
        model_mask: optional (S, S) uint8 from the model, intersected with the landmark mask."""
        mask = crop_mask(aligned.landmarks, self.size, self.config.mask, out=self._mask)
        if model_mask is not None:
            np.minimum(mask, model_mask, out=mask)
        recoloured = self._color(swapped, aligned.image, mask, out=self._recoloured)
        return self._blend(frame, recoloured, mask, aligned.matrix)


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
