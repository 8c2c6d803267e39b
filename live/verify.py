"""Reading swapcam's watermark back from a video or an image (``swapcam verify``).

Faces are found and tracked with the landmarker (video mode), each face's mark block is aligned onto the template
and summed over the frames of its track; a track is read once at the end (``swapcam.core.watermark.read_block``:
the sum as found, and a small grid of shifts around it, since a swapped face's landmarks sit a few
pixels from those the mark was drawn with). A clip is "marked" when any face track's marker statistic passes
``Z_THRESHOLD`` as found or ``Z_SEARCH`` on the grid. No model is needed, and nothing here imports torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.media_io import IMAGE_SUFFIXES, load_image, read_video
from swapcam.core.messages import Frame
from swapcam.core.watermark import Z_SEARCH, Z_THRESHOLD, Reading, face_block, read_block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyConfig:
    max_faces: int = 4  # faces tracked per frame
    max_seconds: float | None = 60.0  # read at most this much of a video (None: all of it)
    min_faces: int = 1  # a track read from fewer face blocks than this is ignored


@dataclass(frozen=True)
class TrackReading:
    track: int
    first_frame: int
    last_frame: int
    reading: Reading


@dataclass(frozen=True)
class Verdict:
    path: str
    frames: int  # frames read
    frames_with_face: int
    tracks: tuple[TrackReading, ...] = field(default=())

    @property
    def best(self) -> TrackReading | None:
        return max(self.tracks, key=lambda t: t.reading.z, default=None)

    @property
    def marked(self) -> bool:
        return any(t.reading.marked for t in self.tracks)

    @property
    def model_id(self) -> int | None:
        ids = [t.reading.model_id for t in self.tracks if t.reading.marked and t.reading.model_id is not None]
        return ids[0] if ids else None

    def as_dict(self) -> dict:
        return {
            "path": self.path, "marked": self.marked, "threshold_z": Z_THRESHOLD, "threshold_z_search": Z_SEARCH,
            "z": round(self.best.reading.z, 3) if self.best else None,
            "model_id": None if self.model_id is None else f"{self.model_id:04x}",
            "frames": self.frames, "frames_with_face": self.frames_with_face,
            "faces": [{"track": t.track, "frames": [t.first_frame, t.last_frame], "blocks": t.reading.faces,
                       "z": round(t.reading.z, 3), "marked": t.reading.marked,
                       "model_id": None if t.reading.model_id is None else f"{t.reading.model_id:04x}",
                       "marker_bit_errors": t.reading.bit_errors,
                       "offset": None if t.reading.offset is None else list(t.reading.offset)} for t in self.tracks],
        }  # fmt: skip


class _Accumulator:
    def __init__(self) -> None:
        self.sums: dict[int, np.ndarray] = {}
        self.counts: dict[int, int] = {}
        self.span: dict[int, list[int]] = {}

    def add(self, track: int, frame_id: int, block: np.ndarray) -> None:
        if track in self.sums:
            self.sums[track] += block
            self.counts[track] += 1
            self.span[track][1] = frame_id
        else:
            self.sums[track], self.counts[track], self.span[track] = (
                block.astype(np.float64),
                1,
                [frame_id, frame_id],
            )

    def readings(self, min_faces: int) -> tuple[TrackReading, ...]:
        return tuple(
            TrackReading(t, *self.span[t], read_block(self.sums[t].astype(np.float32), self.counts[t]))
            for t in sorted(self.sums)
            if self.counts[t] >= min_faces
        )


def verify_frames(frames, path: str, config: VerifyConfig = VerifyConfig(), *, video: bool = True) -> Verdict:
    """Reads the mark from an iterable of ``Frame`` (RGB uint8)."""
    acc = _Accumulator()
    n = with_face = 0
    with FaceLandmarker(LandmarkerConfig(video=video, max_faces=config.max_faces)) as landmarker:
        for frame in frames:
            n += 1
            faces = landmarker(frame)
            with_face += bool(faces)
            for face in faces:
                acc.add(
                    face.track_id,
                    frame.frame_id,
                    face_block(frame.image, face.landmarks),
                )
    return Verdict(path, n, with_face, acc.readings(config.min_faces))


def verify_file(path: str | Path, config: VerifyConfig = VerifyConfig()) -> Verdict:
    """The verdict on one video or image file; a missing or unreadable file raises SwapcamError (one line)."""
    p = Path(path)
    if not p.exists():
        raise SwapcamError(f"no such file: {p}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return verify_frames([Frame(load_image(p), 0, 0.0)], str(p), config, video=False)

    def frames():
        for frame in read_video(p):
            if config.max_seconds is not None and frame.t_capture > config.max_seconds:
                break
            yield frame

    return verify_frames(frames(), str(p), config)
