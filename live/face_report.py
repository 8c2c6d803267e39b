"""What swapcam sees in an image or a video: faces, landmarks, aligned crops and masks (``swapcam faces``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from swapcam.core.align import AlignSpec, align_face
from swapcam.live.composite import CompositeConfig, FacePaster
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.mask import FACE_OVAL, MaskConfig, crop_mask
from swapcam.core.media_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_image, probe_video, read_video, write_image
from swapcam.core.messages import AlignedFace, Face, Frame, largest_face
from swapcam.core.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportConfig:
    align: AlignSpec = field(default_factory=AlignSpec)
    mask: MaskConfig = field(default_factory=MaskConfig)
    max_faces: int = 4
    every: int = 1  # videos: look at every n-th frame
    save_every: int = 30  # videos: write the aligned crops of every n-th frame looked at
    provenance: bool = True


@dataclass(frozen=True, slots=True)
class Report:
    path: Path
    frames: int  # frames looked at (1 for an image)
    frames_with_faces: int
    faces: int  # faces over all frames
    tracks: int  # distinct track ids (videos) or faces (images)
    mean_score: float
    outputs: tuple[Path, ...]

    def summary(self) -> str:
        if self.frames == 1:
            return f"{self.path}: {self.faces} face(s), mean score {self.mean_score:.2f}"
        share = 100.0 * self.frames_with_faces / max(self.frames, 1)
        return (
            f"{self.path}: {self.frames} frames, a face in {self.frames_with_faces} ({share:.1f}%), "
            f"{self.tracks} track(s), mean score {self.mean_score:.2f}"
        )


def annotate(image: np.ndarray, faces: tuple[Face, ...]) -> np.ndarray:
    """A copy of the RGB image with each face's landmarks, oval and track id drawn on it."""
    out = image.copy()
    scale = max(1, round(max(image.shape[:2]) / 640))
    for face in faces:
        pts = np.round(face.landmarks).astype(np.int32)
        for x, y in pts:
            cv2.circle(out, (int(x), int(y)), scale, (0, 255, 0), -1, cv2.LINE_AA)
        cv2.polylines(out, [pts[list(FACE_OVAL)]], True, (255, 200, 0), scale, cv2.LINE_AA)
        x0, y0 = int(face.box[0]), int(face.box[1])
        label = f"#{face.track_id} {face.score:.2f}"
        cv2.putText(out, label, (x0, max(y0 - 4 * scale, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 0, 0),
                    scale, cv2.LINE_AA)  # fmt: skip
    return out


def _save_face(out_dir: Path, stem: str, aligned: AlignedFace, config: ReportConfig) -> list[Path]:
    mask = crop_mask(aligned.landmarks, config.align.size, config.mask)
    return [
        write_image(out_dir / f"{stem}_aligned.png", aligned.image, synthetic=False),
        write_image(out_dir / f"{stem}_mask.png", mask, synthetic=False),
    ]


def align_largest_face(image: np.ndarray, spec: AlignSpec, *, what: str = "image") -> AlignedFace:
    """The largest face of an RGB image, aligned; a SwapcamError when there is none."""
    with FaceLandmarker(LandmarkerConfig(video=False, max_faces=4)) as landmarker:
        faces = landmarker(Frame(image, 0, 0.0))
    if not faces:
        raise SwapcamError(f"no face found in {what}")
    face = largest_face(faces)
    return align_face(image, face, spec)


def report_image(path: Path, out_dir: Path | None, config: ReportConfig, paste: AlignedFace | None = None) -> Report:
    image = load_image(path)
    with FaceLandmarker(LandmarkerConfig(video=False, max_faces=config.max_faces)) as landmarker:
        faces = landmarker(Frame(image, 0, 0.0))
    outputs: list[Path] = []
    if out_dir is not None:
        stem = path.stem
        outputs.append(write_image(out_dir / f"{stem}_faces.png", annotate(image, faces), synthetic=False))
        for face in faces:
            outputs += _save_face(out_dir, f"{stem}_face{face.track_id}", align_face(image, face, config.align), config)
        if paste is not None and faces:
            swapped = FacePaster(paste, config.align, CompositeConfig(mask=config.mask))(image, faces)
            outputs.append(
                write_image(out_dir / f"{stem}_pasted.png", swapped, synthetic=True, provenance=config.provenance)
            )
    mean_score = float(np.mean([f.score for f in faces])) if faces else 0.0
    return Report(path, 1, int(bool(faces)), len(faces), len(faces), mean_score, tuple(outputs))


def report_video(path: Path, out_dir: Path | None, config: ReportConfig) -> Report:
    info = probe_video(path)
    frames = with_faces = n_faces = 0
    scores: list[float] = []
    tracks: set[int] = set()
    outputs: list[Path] = []
    total = info.frames // config.every if info.frames else None
    with FaceLandmarker(LandmarkerConfig(video=True, max_faces=config.max_faces)) as landmarker:
        for frame in progress(read_video(path, every=config.every), total=total, desc=path.name, unit="frame"):
            faces = landmarker(frame)
            frames += 1
            with_faces += bool(faces)
            n_faces += len(faces)
            for face in faces:
                tracks.add(face.track_id)
                scores.append(face.score)
                if out_dir is not None and (frames - 1) % config.save_every == 0:
                    stem = f"{path.stem}_{frame.frame_id:06d}_face{face.track_id}"
                    outputs += _save_face(out_dir, stem, align_face(frame.image, face, config.align), config)
    if frames == 0:
        raise SwapcamError(f"no frames could be decoded from {path}")
    mean_score = float(np.mean(scores)) if scores else 0.0
    return Report(path, frames, with_faces, n_faces, len(tracks), mean_score, tuple(outputs))


def report(path: str | Path, out_dir: str | Path | None, config: ReportConfig, paste: AlignedFace | None = None):
    p = Path(path)
    out = Path(out_dir) if out_dir is not None else None
    suffix = p.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return report_video(p, out, config)
    if suffix in IMAGE_SUFFIXES or not p.exists():
        return report_image(p, out, config, paste)
    raise SwapcamError(f"not an image or video file (by its extension): {p}")
