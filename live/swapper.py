"""The model's part of the frame loop, split into three stages the runner times separately:

    prepare(image, faces) -> Batch      align the chosen faces into the model's crop size, as its input tensor
    infer(batch)                        the engine: swapped RGB and mask for every face
    composite(image, batch)             colour-match, mask and blend each swapped face back, in place, ROI only

All buffers are allocated once for ``max_faces`` faces; nothing is allocated per frame except what the engine
returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from swapcam.core.align import align_face
from swapcam.live.composite import CompositeConfig, FaceCompositor
from swapcam.core.engines.base import Engine
from swapcam.core.messages import AlignedFace, Face, face_area
from swapcam.core.watermark import STRENGTH, MarkCall, WatermarkEmbedder, model_id


@dataclass(frozen=True)
class SwapConfig:
    faces: str = "largest"  # "largest": the biggest face only; "all": every face found (up to max_faces)
    max_faces: int = 4
    model_mask: bool = True  # intersect the landmark mask with the mask the model painted
    composite: CompositeConfig = field(default_factory=CompositeConfig)
    watermark: bool = True  # the invisible mark in every swapped face (off only with --no-provenance)
    mark_strength: float = 1.0  # its strength, times swapcam.core.watermark.STRENGTH (SwapSettings checks 1..2)


@dataclass(slots=True)
class Batch:
    aligned: list[AlignedFace]  # crops and their frame -> crop matrices
    tensor: np.ndarray  # (N, 3, R, R) float32 RGB in [0, 1]: a view of the swapper's buffer
    swapped: np.ndarray | None = None  # (N, 3, R, R) float32, set by infer
    mask: np.ndarray | None = None  # (N, 1, R, R) float32, set by infer

    def __len__(self) -> int:
        return len(self.aligned)


class FaceSwapper:
    def __init__(self, engine: Engine, config: SwapConfig = SwapConfig()) -> None:
        self.engine = engine
        self.spec = engine.info.align
        r = self.spec.size
        self._hwc = np.empty((r, r, 3), np.float32)  # one swapped face, HWC, 0..255
        self._face = np.empty((r, r, 3), np.uint8)
        self._mask = np.empty((r, r), np.uint8)
        self._crops = np.empty((0, r, r, 3), np.uint8)
        self.reconfigure(config)
        self._tensor[:1] = 0.5
        engine.run(self._tensor[:1])  # the first run sizes ONNX Runtime's buffers: not on the first real frame

    def reconfigure(self, config: SwapConfig) -> None:
        """New settings from the next frame on: the compositor is rebuilt (cheap), the engine is kept."""
        r, n = self.spec.size, config.max_faces
        if len(self._crops) < n:
            self._crops = np.empty((n, r, r, 3), np.uint8)  # aligned input crops, RGB
            self._tensor = np.empty((n, 3, r, r), np.float32)  # the engine's input
        self.config = config
        mark = None
        if config.watermark:  # the model's mark, drawn on each pasted face in the frame (swapcam.core.watermark)
            mark = WatermarkEmbedder(self.spec, model_id(self.engine.info.to_metadata()),
                                     strength=STRENGTH * config.mark_strength)
        self._compositor = FaceCompositor(r, config.composite, mark=mark)

    @property
    def mark(self) -> WatermarkEmbedder | None:
        """The watermark embedder that draws on the pasted faces (None with provenance off)."""
        return self._compositor.mark

    def select(self, faces: tuple[Face, ...]) -> tuple[Face, ...]:
        if self.config.faces == "largest" and len(faces) > 1:
            return (max(faces, key=face_area),)
        return faces[: self.config.max_faces]

    def prepare(self, image: np.ndarray, faces: tuple[Face, ...]) -> Batch:
        faces = self.select(faces)
        aligned = [align_face(image, f, self.spec, out=self._crops[i]) for i, f in enumerate(faces)]
        n = len(aligned)
        tensor = self._tensor[:n]
        # (n, R, R, 3) uint8 -> (n, 3, R, R) float32 / 255 in one pass
        np.multiply(self._crops[:n].transpose(0, 3, 1, 2), np.float32(1 / 255), out=tensor)
        return Batch(aligned, tensor)

    def infer(self, batch: Batch) -> Batch:
        if len(batch):
            batch.swapped, batch.mask = self.engine.run(batch.tensor)
        return batch

    def composite(self, image: np.ndarray, batch: Batch, deferred: list[MarkCall] | None = None) -> None:
        """deferred: the marks are not drawn but listed there (``FaceCompositor``)."""
        for i, aligned in enumerate(batch.aligned):
            np.multiply(batch.swapped[i].transpose(1, 2, 0), np.float32(255), out=self._hwc)
            cv2.convertScaleAbs(self._hwc, dst=self._face)  # rounds and saturates to uint8
            model_mask = None
            if self.config.model_mask:
                cv2.convertScaleAbs(batch.mask[i, 0], dst=self._mask, alpha=255)
                model_mask = self._mask
            self._compositor(image, aligned, self._face, model_mask, deferred)
