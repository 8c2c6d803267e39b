"""Draws the invisible watermark where ``swapcam verify`` will look for it (issue 16).

The embedder places the mark block by the *input* face's landmarks (the alignment the model was fed). ``verify``
sees only the output, and finds the *swapped* face's landmarks: a model paints its person's eyes, nose and mouth a
few pixels from the input's (a ``fast`` model of 2,900 steps on webcam_720p: 4.7 block px sideways and 2 % smaller,
steady within 0.8 px). A mark drawn off by that much loses most of its band (its period is 4 to 13 block px), and
after a video call's downscale the search over small shifts no longer finds it.

``MarkAligner`` measures the offset on the output itself: now and then it keeps the same region around the face
(3.5 face widths, at the frame's own resolution) before and after the composite, finds its landmarks in both
(MediaPipe's face mesh in image mode, about 8 ms each), and fits the similarity that takes the input's mark block to
the one the swapped face's landmarks give (measured alike, the two share the mesh's own bias, which cancels: on the
unchanged face of a pass-through model a single measurement is off by about a block pixel, enough to cost a third of
the mark). The region is not resampled: a first version measured both faces in a 256 px view at 2 face widths, and
on the `fast` model's webcam_720p swap it put the block 0.5 block px and 1-2 % in scale off where verify's tracker
finds it; in regions of 3.5 face widths at the frame's resolution it measures what image mode on the whole frame
does (2026-12-06: the swapped face's 2-s windows read as found at z 16-20 instead of 9-17, and the copies cost 0.5
ms on the frame thread instead of 1.4 for the two warps). The median of the last few fits is the embedder's
correction from the next frame on.

Each face track has its own fits and schedule (with ``--faces all`` every person gets the correction of their own
face, and a face found again after a cut starts with quick samples); at most one face is sampled per frame, the one
most behind its schedule. Samples: five in the track's first second, then one every ``every`` frames (5 s at 30 fps)
once its fits agree within ``steady`` (a large face: the offset is a property of the model and the person, and
barely moves; about 16 ms of CPU every 5 s, on a thread of its own), and one every ``first_every`` frames while they
do not (small faces, whose single fits scatter by several block px: the stage clip's 82 px faces). A track not yet
fitted is drawn with the median of the latest fits of any track (what the model does to faces in general), the very
first ones with none. A new model starts from none again. Video only: in image mode (``FaceSwap(video=False)``,
unrelated stills) the mark stays where the input's landmarks put it.

This is the live loop's default (``--mark-placement sampled``), the way that costs least CPU. On a model's poorer
swaps of small faces the offset wanders from frame to frame and no sampled correction follows it; ``convert`` places
the marks with ``verify``'s own tracker on every frame instead, at the cost of one more face mesh per frame, and the
live loop can with that tracker's fits of the frame before, on a thread (``--mark-placement follow``; both in
``swapcam.live.mark_track``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from swapcam.core import watermark as wm
from swapcam.core.align import invert_affine, transform_points
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import AlignedFace, Frame
from swapcam.live.job_thread import IdleJobThread

ROI_FACE_WIDTHS = 3.5  # the sampled region around the face, at the frame's own resolution


@dataclass(frozen=True)
class MarkAlignConfig:
    first: int = 5  # fits at the start, one every ``first_every`` swapped frames (neighbouring frames are alike)
    first_every: int = 6
    every: int = 150  # then one frame in this many (5 s at 30 fps), once the fits agree:
    # block px: the median distance of the track's fits from their median, at the mark's edge (single fits on large
    # faces scatter by 0.6-1.9 px, on the stage clip's 82 px faces by 2.6-3.2)
    steady: float = 2.0
    keep: int = 9  # the correction is the median of this many latest fits
    # a fit beyond these is not this face's (another face, a failed mesh) and is dropped
    max_shift: float = 12.0  # block px
    max_scale_change: float = 0.15
    max_rotation_deg: float = 8.0
    forget: int = 300  # frames: a track not swapped for this long is forgotten (10 s at 30 fps)


@dataclass
class _Track:
    """One face track's fits and schedule."""

    fits: deque
    seen: int = 0  # the aligner's frame count when this track was last swapped
    swapped: int = 0  # frames of this track swapped
    next: int = 0  # sampled when ``swapped`` reaches this
    samples: int = 0  # samples handed over for this track
    steady: bool = False  # its fits agree (within ``steady``): sampled every ``every`` frames, not ``first_every``


def _spread(fits: np.ndarray, median: np.ndarray) -> float:
    """Block px: the median over (K, 2, 3) ``fits`` of how far each moves the ends of the mark's envelope (its
    ellipse's axes, 0.36 and 0.47 face widths from the centre) from where ``median`` does."""
    c, fw = (wm.MARK_SPEC.size - 1) / 2.0, wm.MARK_SPEC.face_width
    ends = np.array([[c - 0.36 * fw, c + 0.36 * fw, c, c], [c, c, c - 0.47 * fw, c + 0.47 * fw], [1.0] * 4])  # (3, 4)
    d = (fits - median) @ ends  # (K, 2, 4)
    return float(np.median(np.max(np.hypot(d[:, 0], d[:, 1]), axis=1)))


def block_fit(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(2, 3) mark block -> mark block: from where the (2, 3) frame -> block matrix ``before`` (the input face's) puts
    the block to where ``after`` (the swapped face's) puts it."""
    return (np.vstack([after, (0.0, 0.0, 1.0)]) @ np.linalg.inv(np.vstack([before, (0.0, 0.0, 1.0)])))[:2]


def plausible(fit: np.ndarray, config: MarkAlignConfig) -> bool:
    """Whether a (2, 3) ``block_fit`` is within ``config``'s limits on the block centre's shift, the scale and the
    rotation (beyond them it is another face's, or a failed mesh's)."""
    scale = math.sqrt(abs(float(np.linalg.det(fit[:, :2]))))
    angle = math.degrees(math.atan2(fit[1, 0], fit[0, 0]))
    c = (wm.MARK_SPEC.size - 1) / 2.0
    shift = fit[:, :2] @ (c, c) + fit[:, 2] - c  # where the block's centre goes
    return (float(np.abs(shift).max()) <= config.max_shift and abs(scale - 1) <= config.max_scale_change
            and abs(angle) <= config.max_rotation_deg)  # fmt: skip


class MarkAligner:
    """Keeps a watermark embedder's corrections on the swapped faces, one per face track. Owns one image-mode face
    landmarker, built here (never per frame), and, with ``background`` (the default), one thread that runs it: the
    frame loop only copies the two regions (0.5 ms for both, p50 on webcam_720p) and hands them over, so no frame
    waits the 16 ms of the two face meshes. A pair that arrives while the thread is busy is skipped.
    ``background=False`` fits on the calling thread (repeatable: benchmarks, tests). ``close`` stops the
    thread and releases the landmarker."""

    def __init__(self, config: MarkAlignConfig = MarkAlignConfig(), *, background: bool = True) -> None:
        self.config = config
        # two faces: a region of 3.5 face widths may hold someone else's too; the one nearest its centre is measured
        self._landmarker = FaceLandmarker(LandmarkerConfig(max_faces=2, video=False))
        self._tracks: dict[int, _Track] = {}
        self._recent: deque[np.ndarray] = deque(maxlen=config.keep)  # the latest fits of any track
        self._frames = 0
        self._roi = (0, 0, 0, 0)  # (x0, y0, x1, y1) frame px of the pending ``before``
        self._input_roi: np.ndarray | None = None
        self._track = -1  # the track of the pending ``before``
        # (2, 3) block -> block: the median of the latest fits of any track, for faces whose track has none yet
        self.correction: np.ndarray | None = None
        self.corrections: dict[int, np.ndarray] = {}  # by track: the median of its own fits; replaced, never changed
        self.samples = self.rejected = self.skipped = 0
        self._generation = 0  # bumped by reset: a fit of the model before is not kept
        self._lock = threading.Lock()  # the fits and tracks, shared with the thread
        self._worker = IdleJobThread(self._fit, self._failed, "swapcam-mark-align") if background else None

    def reset(self) -> None:
        """Forgets the fits (another model paints its faces elsewhere)."""
        with self._lock:
            self._generation += 1
            self._tracks.clear()
            self._recent.clear()
            self._frames = 0
            self.correction = None
            self.corrections = {}
        if self._worker is not None:
            self._worker.drop()

    def apply(self, embedder: wm.WatermarkEmbedder | None) -> None:
        """Before a frame's composite: the current corrections onto the embedder that will draw it (references to
        objects the fits replace, never change)."""
        if embedder is not None:
            embedder.correction, embedder.corrections = self.correction, self.corrections

    def due(self, faces: Sequence[AlignedFace]) -> int | None:
        """Counts one swapped frame for the track of each of ``faces`` (this frame's batch, in its order);
        returns the position of the one to sample on this frame, or None: the track most behind its schedule
        (fewest samples first), at most one per frame. A track is due ``first_every`` frames after its last sample
        for its first ``first`` samples, then ``every`` frames after, or ``first_every`` after a fit that found its
        fits scattered (``_fitted``)."""
        cfg = self.config
        self._frames += 1
        pick, best = None, None
        for i, face in enumerate(faces):
            tid = face.track_id
            t = self._tracks.get(tid)
            if t is None:
                t = self._tracks[tid] = _Track(deque(maxlen=cfg.keep))
            t.seen = self._frames
            if t.swapped >= t.next and (best is None or t.samples < best.samples):
                pick, best = i, t
            t.swapped += 1
        if best is not None:
            best.samples += 1
            # after the first few, every ``every`` frames; a fit that finds the track's fits scattered brings its
            # next sample forward (``_fitted``)
            best.next = best.swapped - 1 + (cfg.first_every if best.samples < cfg.first else cfg.every)
        if len(self._tracks) > len(faces):  # forget the tracks gone for a while (bounded, whatever the video)
            gone = [tid for tid, t in self._tracks.items() if self._frames - t.seen > cfg.forget]
            if gone:
                with self._lock:
                    for tid in gone:
                        del self._tracks[tid]
                    self.corrections = {k: v for k, v in self.corrections.items() if k not in gone}
        return pick

    def before(self, image: np.ndarray, matrix: np.ndarray, embedder: wm.WatermarkEmbedder, track: int) -> None:
        """On a frame to be sampled, before its composite: the region around the input face of ``track`` (its blend
        ``matrix``) is kept, to be measured exactly as ``sample`` will measure the swapped one, so that what the two
        measurements share (the region, the mesh's own bias in image mode) cancels and only the model's offset
        remains."""
        m = embedder.frame_to_block(matrix, corrected=False)
        c = (wm.MARK_SPEC.size - 1) / 2.0
        cx, cy = transform_points(np.array([[c, c]]), invert_affine(m))[0]
        half = ROI_FACE_WIDTHS * wm.MARK_SPEC.face_width / math.sqrt(abs(float(np.linalg.det(m[:, :2])))) / 2
        h, w = image.shape[:2]
        x0, y0 = max(int(cx - half), 0), max(int(cy - half), 0)
        x1, y1 = min(int(cx + half) + 1, w), min(int(cy + half) + 1, h)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return
        self._roi = (x0, y0, x1, y1)
        self._input_roi = image[y0:y1, x0:x1].copy()
        self._track = track

    def sample(self, image: np.ndarray) -> None:
        """After ``before`` on the same frame: keeps the same region of the finished (H, W, 3) uint8 RGB ``image``
        and fits the offset (on the thread, or here without one)."""
        if self._input_roi is None:
            return
        (x0, y0, x1, y1), before, self._input_roi = self._roi, self._input_roi, None
        track, generation = self._track, self._generation

        def job() -> tuple:  # the swapped region is copied only when the thread takes it
            return before, image[y0:y1, x0:x1].copy(), (x0, y0), track, generation

        if self._worker is None:
            self._fit(*job())
        elif not self._worker.offer(job):
            self.skipped += 1

    def wait(self, timeout: float = 10.0) -> None:
        """Until the thread has fitted what it was handed (tests)."""
        if self._worker is not None:
            self._worker.wait(timeout)

    def _failed(self, job: tuple) -> None:
        self.rejected += 1  # a failed mesh costs this fit only

    def _measure(self, roi: np.ndarray, origin: tuple[int, int]) -> np.ndarray | None:
        """(2, 3) frame -> mark block from the landmarks of the face nearest the centre of ``roi`` (a region of the
        frame whose top-left pixel is ``origin``)."""
        faces = self._landmarker(Frame(roi, self.samples, 0.0))
        if not faces:
            return None
        h, w = roi.shape[:2]
        face = min(faces, key=lambda f: float(np.hypot(*(f.landmarks.mean(axis=0) - (w / 2, h / 2)))))
        return wm.block_matrix(face.landmarks.astype(np.float64) + origin)

    def _fit(self, input_roi: np.ndarray, output_roi: np.ndarray, origin: tuple[int, int], track: int,
             generation: int) -> bool:  # fmt: skip
        self.samples += 1
        before, after = self._measure(input_roi, origin), self._measure(output_roi, origin)
        if before is None or after is None:
            self.rejected += 1
            return False
        fit = block_fit(before, after)  # the input's block -> the output's
        if not plausible(fit, self.config):
            self.rejected += 1
            return False
        with self._lock:
            if generation != self._generation:  # the model changed meanwhile
                return False
            self._fitted(track, fit)
        return True

    def _fitted(self, track: int, fit: np.ndarray) -> None:
        """Under the lock: a (2, 3) ``fit`` of ``track`` joins the medians; a track whose fits scatter by more than
        ``steady`` is sampled again ``first_every`` frames from now."""
        cfg = self.config
        self._recent.append(fit)
        self.correction = np.median(np.stack(self._recent), axis=0)
        t = self._tracks.get(track)
        if t is None:  # forgotten meanwhile
            return
        t.fits.append(fit)
        fits = np.stack(t.fits)
        median = np.median(fits, axis=0)
        t.steady = len(fits) >= cfg.first and _spread(fits, median) <= cfg.steady
        if len(fits) >= cfg.first and not t.steady:
            t.next = min(t.next, t.swapped + cfg.first_every)
        self.corrections = {**self.corrections, track: median}  # the embedder takes them at apply

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        self._landmarker.close()
