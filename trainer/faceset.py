"""A faceset on disk: aligned face crops, their masks, and one index of per-face records.

    FACESET/
      faceset.json     format version and the alignment (size, coverage, y offset, template id)
      index.jsonl      one FaceRecord per line, appended as faces are written (a cut-off last line is ignored)
      sources.jsonl    one line per finished input, so a second run skips it
      faces/...jpg     aligned crops, RGB, at the storage size (256 px: training at any smaller size needs no
      masks/...png     re-extraction), and their face-oval masks (uint8)
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from swapcam.core.align import AlignSpec
from swapcam.core.atomic import write_atomic
from swapcam.core.errors import SwapcamError
from swapcam.core.mask import MaskConfig, crop_mask

log = logging.getLogger(__name__)

FORMAT = "swapcam-faceset/1"
# The mask stored with each face: the face oval, slightly eroded, softly feathered (made at any crop size from the
# face's landmarks, so the live-resampled crops get theirs at load time).
STORED_MASK = MaskConfig(erode=0.02, feather=0.02)


@dataclass(frozen=True, slots=True)
class FaceRecord:
    image: str  # crop path, relative to the faceset root
    mask: str  # mask path, relative to the faceset root
    source: str  # the input file
    frame: int  # frame index in the source (0 for images)
    track: int  # track id within the source
    landmarks: np.ndarray  # (478, 2) float32, crop pixels at the storage size
    sharpness: float  # variance of the Laplacian inside the mask, at the storage size
    yaw: float  # degrees, see swapcam.core.pose
    pitch: float
    roll: float
    face_px: float  # face size (square root of the oval's area) in source pixels
    # Sizes also stored as crops warped straight from the frame (live resampling), lossless: faces{R}/....png.
    # Empty in facesets extracted before they existed; those are resized from the storage crop instead.
    sizes: tuple[int, ...] = ()

    def crop_path(self, size: int) -> str:
        """The live-resampled crop at ``size`` (one of ``sizes``), relative to the faceset root: the storage crop's
        path with its ``faces`` folder renamed ``faces{size}`` (a faceset whose records point into another one, as
        ``../full/faces/...``, finds that one's crops)."""
        parts = self.image.rsplit(".", 1)[0].split("/")
        at = len(parts) - 1 - parts[::-1].index("faces")
        return "/".join([*parts[:at], f"faces{size}", *parts[at + 1 :]]) + ".png"

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.source, self.frame, self.track)

    def to_json(self) -> str:
        d = asdict(self)
        d["landmarks"] = np.round(self.landmarks, 2).tolist()
        for k in ("sharpness", "yaw", "pitch", "roll", "face_px"):
            d[k] = round(float(d[k]), 3)
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> FaceRecord:
        d = json.loads(line)
        d["landmarks"] = np.asarray(d["landmarks"], np.float32)
        d["sizes"] = tuple(d.get("sizes", ()))
        return cls(**d)


class FacesetStore:
    """Reads and appends to a faceset folder. Appends are line-atomic: a crash leaves at most a partial last line,
    which ``records()`` skips, and image files are written before the record that names them."""

    def __init__(self, root: str | Path, spec: AlignSpec | None = None) -> None:
        self.root = Path(root)
        meta = self.root / "faceset.json"
        if meta.exists():
            try:
                info = json.loads(meta.read_text())
                self.spec = AlignSpec.from_metadata(info)
            except (ValueError, SwapcamError) as exc:
                raise SwapcamError(f"{self.root} is not a swapcam faceset ({exc})") from exc
            if info.get("format") != FORMAT:
                raise SwapcamError(f"{self.root}: unknown faceset format {info.get('format')!r}")
            if spec is not None and spec != self.spec:
                raise SwapcamError(f"{self.root} was extracted with {self.spec}, not {spec}")
        elif spec is None:
            if not self.root.exists():
                raise SwapcamError(f"no such faceset: {self.root}")
            raise SwapcamError(f"{self.root} is not a swapcam faceset (no faceset.json): run `swapcam extract`")
        else:
            self.spec = spec
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(meta, json.dumps({"format": FORMAT, **spec.to_metadata()}, indent=1))

    def records(self) -> list[FaceRecord]:
        path = self.root / "index.jsonl"
        if not path.exists():
            return []
        out = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            try:
                out.append(FaceRecord.from_json(line))
            except (ValueError, TypeError, KeyError):
                log.warning("%s line %d is incomplete (an interrupted run?): skipped", path, n)
        return out

    def finished_sources(self) -> dict[str, dict]:
        path = self.root / "sources.jsonl"
        if not path.exists():
            return {}
        done = {}
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                done[entry["source"]] = entry
            except (ValueError, KeyError):
                continue
        return done

    def add_face(self, record: FaceRecord, crop: np.ndarray, mask: np.ndarray,
                 live_crops: dict[int, np.ndarray] | None = None) -> None:  # fmt: skip
        """crop: (S, S, 3) uint8 RGB; mask: (S, S) uint8; live_crops: size -> (R, R, 3) uint8 RGB, one for each of
        ``record.sizes``."""
        files = [
            (record.image, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]),
            (record.mask, mask, []),
        ]
        for size in record.sizes:
            files.append((record.crop_path(size), cv2.cvtColor(live_crops[size], cv2.COLOR_RGB2BGR), []))
        for rel, data, params in files:
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            ok, buf = cv2.imencode(path.suffix, data, params)
            if not ok:
                raise SwapcamError(f"cannot encode {path}")
            write_atomic(path, buf.tobytes(), sync=False)
        _append_line(self.root / "index.jsonl", record.to_json())

    def finish_source(self, entry: dict) -> None:
        _append_line(self.root / "sources.jsonl", json.dumps(entry, separators=(",", ":")))


def _append_line(path: Path, line: str) -> None:
    with open(path, "ab") as f:
        if f.tell() > 0:  # a run killed mid-line leaves a torn last line: end it, so this record stands alone
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    f.write(b"\n")
        f.write(line.encode("utf-8") + b"\n")
        f.flush()


@dataclass
class FaceArrays:
    """A faceset loaded for training, resized to the training resolution R."""

    images: np.ndarray  # (N, R, R, 3) uint8 RGB
    masks: np.ndarray  # (N, R, R) uint8
    landmarks: np.ndarray  # (N, 478, 2) float32, pixels at R
    spec: AlignSpec  # the alignment at R

    def __len__(self) -> int:
        return len(self.images)


def load_faceset(root: str | Path, resolution: int, *, max_faces: int | None = None) -> FaceArrays:
    """Loads every face of a faceset into memory at ``resolution``; a SwapcamError if it has none."""
    store = FacesetStore(root)
    records = store.records()
    if not records:
        raise SwapcamError(f"faceset {store.root} has no faces: extract some with `swapcam extract`")
    if max_faces is not None and len(records) > max_faces:
        pick = np.linspace(0, len(records) - 1, max_faces).round().astype(int)
        records = [records[i] for i in pick]
    n, r = len(records), resolution
    scale = r / store.spec.size
    images = np.empty((n, r, r, 3), np.uint8)
    masks = np.empty((n, r, r), np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = 0
    for i, rec in enumerate(records):
        if r in rec.sizes:  # warped from the frame at r by align_face, as live: read as it is
            bgr = cv2.imread(str(store.root / rec.crop_path(r)), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SwapcamError(f"faceset {store.root}: cannot read {rec.crop_path(r)}")
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=images[i])
            landmarks_r = (rec.landmarks + 0.5) * np.float32(scale) - 0.5
            crop_mask(landmarks_r, r, STORED_MASK, out=masks[i])
            continue
        resized += 1
        bgr = cv2.imread(str(store.root / rec.image), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(store.root / rec.mask), cv2.IMREAD_GRAYSCALE)
        if bgr is None or mask is None:
            raise SwapcamError(f"faceset {store.root}: cannot read {rec.image} or its mask")
        src = bgr if bgr.shape[0] == r else cv2.resize(bgr, (r, r), interpolation=interp)
        cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=images[i])
        masks[i] = mask if mask.shape[0] == r else cv2.resize(
            mask, (r, r), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if resized and r != store.spec.size:
        log.info("faceset %s: %d of %d faces resized from the %d px crops (extracted before live-resampled %d px "
                 "crops were stored; re-extract to train on the live resampling)", store.root, resized, n,
                 store.spec.size, r)  # fmt: skip
    # Pixel-centre coordinates scale about -0.5: x_r + 0.5 = (x_s + 0.5) * scale.
    landmarks = (np.stack([rec.landmarks for rec in records]) + 0.5) * scale - 0.5
    return FaceArrays(images, masks, landmarks.astype(np.float32), store.spec.with_size(r))
