"""Reading images and video files into RGB frames, with one-line errors for bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from swapcam.core.atomic import write_atomic
from swapcam.core.errors import SwapcamError
from swapcam.core.messages import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv"})


def _existing_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise SwapcamError(f"no such file: {p}")
    if not p.is_file():
        raise SwapcamError(f"not a file: {p}")
    return p


def load_image(path: str | Path) -> np.ndarray:
    """Returns the image at ``path`` as (H, W, 3) uint8 RGB."""
    p = _existing_file(path)
    data = np.fromfile(p, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise SwapcamError(f"cannot read image (not an image, or truncated): {p}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int  # as the container says; 0 when unknown


def probe_video(path: str | Path) -> VideoInfo:
    from swapcam.core.video import VideoReader

    p = _existing_file(path)
    with VideoReader(str(p)) as reader:
        return VideoInfo(reader.width, reader.height, reader.fps, reader.frames)


def read_video(path: str | Path, *, every: int = 1) -> Iterator[Frame]:
    """Decodes every ``every``-th frame of the first video stream as RGB; ``t_capture`` is the stream time (s).

    A file that is not a video, or that breaks off, raises SwapcamError (after the frames decoded before it).
    Reads through ``swapcam.core.video.VideoReader``, the one decode path.
    """
    from swapcam.core.video import VideoReader, rgb

    p = _existing_file(path)
    with VideoReader(str(p)) as reader:
        for index, vf in enumerate(reader.decode()):
            if index % every:
                continue
            yield Frame(rgb(vf), index, reader.seconds(vf, index))


def write_image(path: str | Path, image: np.ndarray, *, synthetic: bool, provenance: bool = True) -> Path:
    """Writes an (H, W, 3) RGB or (H, W) grey uint8 image. A PNG that is ``synthetic`` carries the provenance
    note in a tEXt chunk unless ``provenance`` is False (the CLI's explicit --no-provenance)."""
    from swapcam.core.provenance import PNG_KEYWORD, SYNTHETIC_NOTE, add_png_text

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(p.suffix or ".png", bgr)
    if not ok:
        raise SwapcamError(f"cannot encode an image as {p.suffix!r}: {p}")
    data = buf.tobytes()
    if synthetic and provenance:
        if p.suffix.lower() != ".png":
            raise SwapcamError(f"synthetic images are written as PNG so they can carry provenance: {p}")
        data = add_png_text(data, PNG_KEYWORD, SYNTHETIC_NOTE)
    return write_atomic(p, data, sync=False)
