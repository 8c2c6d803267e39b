"""Building a person's gallery of face descriptors from facesets, images, videos or folders of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from swapcam.evaluate.identity import FaceEmbedder, Gallery
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.media_io import VIDEO_SUFFIXES, load_image, probe_video, read_video
from swapcam.core.messages import Frame, face_area

log = logging.getLogger(__name__)


def _spread(items: list, limit: int) -> list:
    """At most ``limit`` items, evenly spaced over the list."""
    if len(items) <= limit:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def _faceset_faces(root: Path, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    from swapcam.trainer.faceset import FacesetStore

    for record in _spread(FacesetStore(root).records(), limit):
        yield load_image(root / record.image), record.landmarks


def _media_frames(files: list[Path], limit: int) -> Iterator[Frame]:
    """Up to ``limit`` pictures: the images evenly spread, each video's frames evenly spread."""
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    images = _spread([f for f in files if f not in videos], limit)
    for path in images:
        yield Frame(load_image(path), 0, 0.0)
    per_video = max(1, (limit - len(images)) // len(videos)) if videos else 0
    for video in videos:
        total = probe_video(video).frames
        every = max(1, -(-total // per_video)) if total else 10
        for n, frame in enumerate(read_video(video, every=every)):
            if n == per_video:
                break
            yield frame


def _media_faces(files: list[Path], limit: int, landmarker: FaceLandmarker) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for frame in _media_frames(files, limit):
        faces = landmarker(frame)
        if faces:
            yield frame.image, max(faces, key=face_area).landmarks


def build_gallery(name: str, inputs: list[str], embedder: FaceEmbedder, *, limit: int = 64) -> Gallery:
    """Descriptors of up to ``limit`` faces of one person (the largest face of each picture).

    ``inputs``: faceset folders (their stored crops and landmarks), image or video files, or folders of them.
    """
    from swapcam.trainer.extract import expand_inputs

    embeddings: list[np.ndarray] = []
    facesets = [Path(p) for p in inputs if (Path(p) / "faceset.json").is_file()]
    others = [p for p in inputs if Path(p) not in facesets]
    files, bad = expand_inputs(others) if others else ([], [])
    if bad:
        raise SwapcamError(f"gallery {name}: {bad[0][0]}: {bad[0][1]}")
    share = max(1, limit // max(len(facesets) + (1 if files else 0), 1))
    for root in facesets:
        embeddings += [embedder.embed(image, lm) for image, lm in _faceset_faces(root, share)]
    if files:
        with FaceLandmarker(LandmarkerConfig(video=False, max_faces=2)) as landmarker:
            embeddings += [embedder.embed(image, lm) for image, lm in _media_faces(files, share, landmarker)]
    if not embeddings:
        raise SwapcamError(f"gallery {name}: no faces found in {', '.join(inputs)}")
    log.info("gallery %s: %d faces", name, len(embeddings))
    return Gallery(name, np.stack(embeddings), tuple(inputs))
