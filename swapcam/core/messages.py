"""Small typed messages passed between the stages of extraction, training and the live loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture from a source."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    frame_id: int  # 0-based index in the source
    t_capture: float  # seconds on the time.perf_counter() clock (live) or the stream time (files)


@dataclass(frozen=True, slots=True)
class Face:
    """One face found in a frame, in frame pixel coordinates (centre of the top-left pixel at (0, 0))."""

    frame_id: int
    t_capture: float
    track_id: int  # stable across frames of one track; a new id after the track is lost
    landmarks: np.ndarray  # (478, 2) float32, pixels; MediaPipe Face Mesh order, refined (iris points 468-477)
    depth: np.ndarray  # (478,) float32, MediaPipe's relative depth scaled to pixels (smaller = nearer the camera)
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) pixels, the landmarks' bounding box
    score: float  # detector confidence in [0, 1], measured when the track started


def face_area(face: Face) -> float:
    """Area of the face's landmark box, px²: the one rule by which "the largest face" is chosen everywhere (the
    live swap's ``faces=largest``, extraction's order, ``swapcam faces --paste``, eval's galleries)."""
    x0, y0, x1, y1 = face.box
    return (x1 - x0) * (y1 - y0)


def largest_face(faces: tuple[Face, ...] | list[Face]) -> Face | None:
    """The face with the largest landmark box, or None when there is none."""
    return max(faces, key=face_area, default=None)


@dataclass(frozen=True, slots=True)
class AlignedFace:
    """A face cropped onto the canonical template; ``matrix`` maps frame pixels to crop pixels."""

    frame_id: int
    t_capture: float
    track_id: int
    image: np.ndarray  # (S, S, 3) uint8, RGB
    matrix: np.ndarray  # (2, 3) float64, frame -> crop; paste-back uses its inverse
    landmarks: np.ndarray  # (478, 2) float32, crop pixels
