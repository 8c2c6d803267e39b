"""Real aligned faces for checking and calibrating an exported model: a faceset, or the two public-domain portraits
shipped inside scikit-image and matplotlib when no faceset is at hand."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from swapcam.core.align import AlignSpec, align_face
from swapcam.core.errors import SwapcamError

log = logging.getLogger(__name__)


def faceset_faces(root: str | Path, spec: AlignSpec, limit: int) -> np.ndarray:
    """(N, R, R, 3) uint8 RGB faces of a faceset at the model's resolution; its alignment must match the model's."""
    from swapcam.trainer.faceset import load_faceset

    arrays = load_faceset(root, spec.size, max_faces=limit)
    if (arrays.spec.coverage, arrays.spec.y_offset, arrays.spec.template_id) != (
        spec.coverage, spec.y_offset, spec.template_id,
    ):  # fmt: skip
        raise SwapcamError(f"faceset {root} was aligned as {arrays.spec}, the model expects {spec}")
    return arrays.images


def portrait_faces(spec: AlignSpec) -> np.ndarray:
    """(4, R, R, 3) uint8: the astronaut and Grace Hopper aligned with ``spec``, and their mirror images."""
    from swapcam.core.portraits import portraits
    from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
    from swapcam.core.messages import Frame

    crops = []
    with FaceLandmarker(LandmarkerConfig(video=False)) as lm:
        for i, image in enumerate(portraits()):
            faces = lm(Frame(image, i, 0.0))
            if not faces:
                raise SwapcamError("no face found in the bundled portraits: the MediaPipe install looks broken")
            crops.append(align_face(image, faces[0], spec).image)
    crops += [c[:, ::-1] for c in crops]
    return np.ascontiguousarray(np.stack(crops))


def check_faces(source: str | None, spec: AlignSpec, limit: int) -> tuple[np.ndarray, str]:
    """Faces from ``source`` if it is a faceset folder, else the bundled portraits; returns (faces, description)."""
    if source and Path(source).is_dir():
        return faceset_faces(source, spec, limit), f"faceset {source}"
    if source:
        log.warning("faceset %s not found; checking on the bundled portraits instead", source)
    return portrait_faces(spec), "the bundled portraits (astronaut, grace_hopper)"


def to_input(faces: np.ndarray) -> np.ndarray:
    """(N, R, R, 3) uint8 RGB -> (N, 3, R, R) float32 in [0, 1]: the model's input layout (swapcam.core.model_info)."""
    return np.ascontiguousarray(faces.transpose(0, 3, 1, 2), dtype=np.float32) * np.float32(1 / 255)
