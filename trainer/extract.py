"""``swapcam extract``: footage -> a faceset of aligned faces, using the live loop's own face core.

Every face goes through ``swapcam.core.landmarks`` and ``swapcam.core.align`` exactly as the live loop will see it; faces that are
too small, blurred, or near-copies of the previous kept face of their track are rejected and counted by reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from swapcam.core.align import AlignSpec, align_face
from swapcam.core.errors import SwapcamError
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.mask import crop_mask, face_size
from swapcam.core.media_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, load_image, probe_video, read_video
from swapcam.core.messages import Frame, face_area
from swapcam.core.pose import head_pose
from swapcam.core.progress import progress
from swapcam.trainer.faceset import STORED_MASK, FaceRecord, FacesetStore

log = logging.getLogger(__name__)

# Storage alignment: 256 px at the live loop's coverage (the quality preset's size, kept as JPEG). The smaller
# model sizes (128: fast, 64: tiny) are stored too, each warped straight from the frame by the live loop's own
# ``align_face`` and kept lossless, so a model trains on exactly the resampling it meets live (issue 11).
STORAGE_SPEC = AlignSpec(size=256)
LIVE_SIZES = (128, 64)


@dataclass(frozen=True, slots=True)
class ExtractConfig:
    every: int = 1  # videos: take every n-th frame
    max_faces: int = 1  # faces per frame (the largest first)
    min_size: float = 48.0  # reject faces smaller than this (square root of the face area, source pixels)
    # Blur: the Laplacian variance of the 256 px aligned face (masked). Sharp faces of the sample clips score
    # 360-2200, a Gaussian blur of sigma 4 px on a 512 px frame about 70. Video frames are also compared with
    # the source's own median, which catches motion blur whatever the face's resolution.
    min_sharpness: float = 100.0
    min_relative_sharpness: float = 0.4  # of the median of the source's faces so far (after 10 faces)
    dedup_threshold: float = 2.0  # reject a face whose 32 px thumbnail differs from the track's last by less
    spec: AlignSpec = field(default_factory=lambda: STORAGE_SPEC)
    live_sizes: tuple[int, ...] = LIVE_SIZES  # also stored as live-resampled crops (lossless PNG)


@dataclass
class ExtractSummary:
    inputs: int = 0
    skipped_done: list[str] = field(default_factory=list)  # inputs already extracted by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    frames_read: int = 0
    faces_found: int = 0
    kept: int = 0
    already_there: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count

    def lines(self) -> list[str]:
        rej = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        out = [
            f"inputs {self.inputs} (already done {len(self.skipped_done)}, failed {len(self.failed)}), "
            f"frames read {self.frames_read}, faces found {self.faces_found}",
            f"faces kept {self.kept}" + (f" (+{self.already_there} already in the faceset)" if self.already_there else "")
            + f"; rejected: {rej}",
        ]
        out += [f"skipped {path}: {why}" for path, why in self.failed]
        return out


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey (S, S, 3) uint8 crop over mask >= 128: low means blurred."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    _, std = cv2.meanStdDev(lap, mask=(mask >= 128).astype(np.uint8))
    return float(std[0, 0] ** 2)


def _thumb(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to read (folders expanded, sorted) and the inputs that cannot be used, with the reason."""
    files: list[Path] = []
    bad: list[tuple[str, str]] = []
    media = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in media)
            if not found:
                bad.append((item, "no images or videos in this folder"))
            files += found
        elif not p.exists():
            bad.append((item, "no such file"))
        elif p.suffix.lower() not in media:
            bad.append((item, "not an image or video file (by its extension)"))
        else:
            files.append(p)
    return files, bad


def _source_id(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}"


class Extractor:
    """Extracts faces from inputs into a faceset, skipping what an earlier run already finished."""

    def __init__(self, out: str | Path, config: ExtractConfig = ExtractConfig()) -> None:
        self.config = config
        self.store = FacesetStore(out, config.spec)

    def run(self, inputs: list[str]) -> ExtractSummary:
        files, bad = expand_inputs(inputs)
        summary = ExtractSummary(inputs=len(files) + len(bad), failed=list(bad))
        done = self.store.finished_sources()
        existing = {r.key for r in self.store.records()}
        for path in files:
            sid = _source_id(path)
            if done.get(str(path.resolve()), {}).get("id") == sid:
                summary.skipped_done.append(str(path))
                continue
            try:
                counts = self._extract_one(path, existing, summary)
            except SwapcamError as exc:
                summary.failed.append((str(path), str(exc)))
                log.warning("skipping %s: %s", path, exc)
                continue
            self.store.finish_source({"source": str(path.resolve()), "id": sid, **counts})
        if summary.failed and len(summary.failed) == summary.inputs:
            raise SwapcamError("no input could be read: " + "; ".join(f"{p}: {w}" for p, w in summary.failed))
        return summary

    def _frames(self, path: Path):
        if path.suffix.lower() in VIDEO_SUFFIXES:
            info = probe_video(path)
            total = -(-info.frames // self.config.every) if info.frames else None
            return True, progress(read_video(path, every=self.config.every), total=total, desc=path.name,
                                  unit="frame")  # fmt: skip
        return False, [Frame(load_image(path), 0, 0.0)]

    def _extract_one(self, path: Path, existing: set, summary: ExtractSummary) -> dict:
        cfg = self.config
        is_video, frames = self._frames(path)
        source = str(path.resolve())
        stem = f"{path.stem}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"
        last_thumb: dict[int, np.ndarray] = {}
        self._sharpness_seen: list[float] = []
        counts: Counter = Counter()
        lm_config = LandmarkerConfig(video=is_video, max_faces=cfg.max_faces, smoothing=None)
        with FaceLandmarker(lm_config) as landmarker:
            for frame in frames:
                counts["frames"] += 1
                faces = sorted(landmarker(frame), key=face_area, reverse=True)  # the largest first
                if not faces:
                    counts["no_face"] += 1
                for face in faces:
                    counts["found"] += 1
                    reason = self._keep_or_reject(frame, face, stem, source, existing, last_thumb)
                    counts[reason] += 1
        summary.frames_read += counts["frames"]
        summary.faces_found += counts["found"]
        summary.kept += counts["kept"]
        summary.already_there += counts["already_there"]
        for reason in ("small", "blurry", "duplicate"):
            summary.rejected[reason] += counts[reason]
        summary.rejected["frames_without_face"] += counts["no_face"]
        if counts["frames"] == 0:
            raise SwapcamError("no frames could be decoded")
        return dict(counts)

    def _keep_or_reject(self, frame, face, stem, source, existing, last_thumb) -> str:
        cfg = self.config
        size_px = face_size(face.landmarks)
        if size_px < cfg.min_size:
            return "small"
        aligned = align_face(frame.image, face, cfg.spec)
        mask = crop_mask(aligned.landmarks, cfg.spec.size, STORED_MASK)
        sharp = sharpness(aligned.image, mask)
        seen = self._sharpness_seen
        seen.append(sharp)
        if sharp < cfg.min_sharpness or (
            len(seen) > 10 and sharp < cfg.min_relative_sharpness * float(np.median(seen))
        ):
            return "blurry"
        thumb = _thumb(aligned.image)
        prev = last_thumb.get(face.track_id)
        if prev is not None and float(np.abs(thumb - prev).mean()) < cfg.dedup_threshold:
            return "duplicate"
        last_thumb[face.track_id] = thumb
        key = (source, frame.frame_id, face.track_id)
        if key in existing:
            return "already_there"
        pose = head_pose(face.landmarks, face.depth)
        name = f"{stem}/{frame.frame_id:06d}_{face.track_id}"
        record = FaceRecord(
            image=f"faces/{name}.jpg", mask=f"masks/{name}.png", source=source, frame=frame.frame_id,
            track=face.track_id, landmarks=aligned.landmarks, sharpness=sharp, yaw=pose.yaw, pitch=pose.pitch,
            roll=pose.roll, face_px=size_px, sizes=tuple(s for s in cfg.live_sizes if s != cfg.spec.size),
        )  # fmt: skip
        live_crops = {s: align_face(frame.image, face, cfg.spec.with_size(s)).image for s in record.sizes}
        self.store.add_face(record, aligned.image, mask, live_crops)
        existing.add(key)
        return "kept"
