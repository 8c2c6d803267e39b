"""Face identity embeddings with dlib's face-recognition ResNet (the ``eval`` extra), and per-person galleries.

The models come from the ``face-recognition-models`` package on disk; nothing is downloaded. dlib's own 5-point
shape predictor places the face chip inside a box taken from our landmarks, so the chips are cut the way the
network was trained (dlib's detector -> 5 points -> 150 px chip), whatever found the face.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError

log = logging.getLogger(__name__)

SAME_PERSON = 0.6  # dlib's documented threshold: descriptors nearer than this are usually the same person
_INSTALL_HINT = "install the eval extra: pip install -e '.[eval]'"
# Brow tops, for the box's upper edge (dlib's detector boxes run from the brows to the chin).
_BROWS = np.array([70, 63, 105, 66, 107, 336, 296, 334, 293, 300])


def _models_dir() -> Path:
    # The package's __init__ imports pkg_resources, which recent setuptools no longer ship: find the folder
    # without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SwapcamError(f"identity metrics need face-recognition-models: {_INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


class FaceEmbedder:
    """``embed(image, landmarks) -> (128,) float32``: dlib's face descriptor (distances < 0.6: same person)."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise SwapcamError(f"identity metrics need dlib: {_INSTALL_HINT}") from exc
        models = _models_dir()
        try:
            self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
            self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        except RuntimeError as exc:
            raise SwapcamError(f"cannot load dlib's face models from {models}: {exc}") from exc
        self._rect = dlib.rectangle

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """image: (H, W, 3) uint8 RGB; landmarks: (478, 2) float32 pixels of one face in it."""
        x0, x1 = landmarks[234, 0], landmarks[454, 0]
        y0, y1 = landmarks[_BROWS, 1].min(), landmarks[152, 1]
        box = self._rect(int(round(min(x0, x1))), int(round(y0)), int(round(max(x0, x1))), int(round(y1)))
        shape = self._shape(image, box)
        return np.asarray(self._net.compute_face_descriptor(image, shape), dtype=np.float32)


@dataclass(frozen=True)
class Gallery:
    """One person's reference faces: their descriptors and centroid."""

    name: str
    embeddings: np.ndarray  # (N, 128) float32
    sources: tuple[str, ...]  # what they were read from

    @property
    def centroid(self) -> np.ndarray:
        return self.embeddings.mean(axis=0)
