"""Draws the invisible watermark where ``swapcam verify`` will look for it (issue 16).

The embedder places the mark block by the *input* face's landmarks (the alignment the model was fed). ``verify``
sees only the output, and finds the *swapped* face's landmarks: a model paints its person's eyes, nose and mouth a
few pixels from the input's (a ``fast`` model of 2,900 steps on webcam_720p: 4.7 block px sideways and 2 % smaller,
steady within 0.8 px). A mark drawn off by that much loses most of its band (its period is 4 to 13 block px), and
after a video call's downscale the search over small shifts no longer finds it.

``MarkAligner`` measures the offset on the output itself: now and then it views the face before and after the
composite through the same 256 x 256 warp, finds its landmarks in both (MediaPipe's face mesh in image mode, about 8
ms each), and fits the similarity that takes the input's mark block to the one the swapped face's landmarks give
(measured alike, the two share the mesh's own bias, which cancels: on the unchanged face of a pass-through model a
single measurement is off by about a block pixel, enough to cost a third of the mark). The median of the last
few fits is the embedder's ``correction`` from the next frame on. Samples: five in the first second, then one every
``every`` frames (5 s at 30 fps): about 16 ms of CPU every 5 s after the start, on a thread of its own; the
offset is a property of the model and the person, and barely moves. One correction serves every face of a frame
(with ``--faces all`` and different people it fits the first face's). A new model starts from none again. Video
only: in image mode (``FaceSwap(video=False)``, unrelated stills) the mark stays where the input's landmarks put it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from swapcam.core import watermark as wm
from swapcam.core.align import invert_affine, transform_points
from swapcam.core.landmarks import FaceLandmarker, LandmarkerConfig
from swapcam.core.messages import Frame, largest_face

SAMPLE = 256  # px: the sampled view of the swapped face (its mark block shown at 2 face widths)
SAMPLE_FACE_WIDTHS = 2.0


@dataclass(frozen=True)
class MarkAlignConfig:
    first: int = 5  # fits at the start, one every ``first_every`` swapped frames (neighbouring frames are alike)
    first_every: int = 6
    every: int = 150  # then one frame in this many (5 s at 30 fps)
    keep: int = 9  # the correction is the median of this many latest fits
    # a fit beyond these is not this face's (another face, a failed mesh) and is dropped
    max_shift: float = 12.0  # block px
    max_scale_change: float = 0.15
    max_rotation_deg: float = 8.0


def _block_to_sample() -> np.ndarray:
    """(3, 3) mark block -> sample pixels: the block's centre at the sample's, 2 face widths across."""
    b = wm.MARK_SPEC.size
    k = (SAMPLE / SAMPLE_FACE_WIDTHS) / (b / wm.MARK_SPEC.coverage)
    c_b, c_s = (b - 1) / 2.0, (SAMPLE - 1) / 2.0
    return np.array([[k, 0.0, c_s - k * c_b], [0.0, k, c_s - k * c_b], [0.0, 0.0, 1.0]])


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, (0.0, 0.0, 1.0)])


class MarkAligner:
    """Keeps a watermark embedder's ``correction`` on the swapped face. Owns one image-mode face landmarker, built
    here (never per frame), and, with ``background`` (the default), one thread that runs it: the frame loop only
    warps the two views (1.3-1.8 ms for both, p50 on webcam_720p) and hands them over, so no frame waits the 16 ms
    of the two face meshes. A view pair that arrives while the thread is busy is skipped. ``background=False`` fits
    on the calling thread (repeatable: ``convert``, benchmarks, tests). ``close`` stops the thread and releases the
    landmarker."""

    def __init__(self, config: MarkAlignConfig = MarkAlignConfig(), *, background: bool = True) -> None:
        self.config = config
        self._landmarker = FaceLandmarker(LandmarkerConfig(max_faces=1, video=False))
        self._b2s = _block_to_sample()
        self._fits: deque[np.ndarray] = deque(maxlen=config.keep)
        self._frames = 0
        self._to_view = np.eye(3)
        self._input_view: np.ndarray | None = None
        self.correction: np.ndarray | None = None  # (2, 3) block -> block, the median of the fits
        self.samples = self.rejected = self.skipped = 0
        self._generation = 0  # bumped by reset: a fit of the model before is not kept
        self._cond = threading.Condition()
        self._job: tuple | None = None
        self._busy = self._closed = False
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._run, name="swapcam-mark-align", daemon=True)
            self._thread.start()

    def reset(self) -> None:
        """Forgets the fits (another model paints its faces elsewhere)."""
        with self._cond:
            self._generation += 1
            self._fits.clear()
            self._frames = 0
            self._job = None
            self.correction = None

    def apply(self, embedder: wm.WatermarkEmbedder | None) -> None:
        """Before a frame's composite: the current correction onto the embedder that will draw it."""
        if embedder is not None:
            embedder.correction = self.correction

    def due(self) -> bool:
        """Counts one swapped frame; True when it is to be sampled."""
        n, cfg = self._frames, self.config
        self._frames += 1
        start = cfg.first * cfg.first_every
        return n % cfg.first_every == 0 if n < start else (n - start) % cfg.every == cfg.every - 1

    def _view(self, image: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(image, self._to_view[:2], (SAMPLE, SAMPLE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip

    def before(self, image: np.ndarray, matrix: np.ndarray, embedder: wm.WatermarkEmbedder) -> None:
        """On a frame to be sampled, before its composite: the input face is viewed exactly as ``sample`` will view
        the swapped one, so that what the two measurements share (the view, the mesh's own bias in image mode)
        cancels and only the model's offset remains."""
        self._to_view = self._b2s @ _h(embedder.frame_to_block(matrix, corrected=False))  # frame -> view
        self._input_view = self._view(image)

    def sample(self, image: np.ndarray) -> None:
        """After ``before`` on the same frame: views the finished (H, W, 3) uint8 RGB ``image`` and fits the offset
        (on the thread, or here without one)."""
        if self._input_view is None:
            return
        job = (self._input_view, self._view(image), self._to_view, self._generation)
        self._input_view = None
        if self._thread is None:
            self._fit(*job)
            return
        with self._cond:
            if self._busy or self._job is not None:
                self.skipped += 1
                return
            self._job = job
            self._cond.notify_all()

    def wait(self, timeout: float = 10.0) -> None:
        """Until the thread has fitted what it was handed (tests)."""
        with self._cond:
            self._cond.wait_for(lambda: self._job is None and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                job, self._job, self._busy = self._job, None, True
            try:
                self._fit(*job)
            except Exception:  # a failed mesh costs this fit only, never the frame loop
                self.rejected += 1
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _measure(self, view: np.ndarray, to_view: np.ndarray) -> np.ndarray | None:
        """(3, 3) frame -> mark block from the landmarks of the face in ``view`` (seen through ``to_view``)."""
        faces = self._landmarker(Frame(view, self.samples, 0.0))
        if not faces:
            return None
        landmarks = transform_points(largest_face(faces).landmarks.astype(np.float64), invert_affine(to_view[:2]))
        return _h(wm.block_matrix(landmarks))

    def _fit(self, input_view: np.ndarray, output_view: np.ndarray, to_view: np.ndarray, generation: int) -> bool:
        self.samples += 1
        before, after = self._measure(input_view, to_view), self._measure(output_view, to_view)
        if before is None or after is None:
            self.rejected += 1
            return False
        fit = (after @ np.linalg.inv(before))[:2]  # the input's block -> the output's
        scale = math.sqrt(abs(float(np.linalg.det(fit[:, :2]))))
        angle = math.degrees(math.atan2(fit[1, 0], fit[0, 0]))
        c = (wm.MARK_SPEC.size - 1) / 2.0
        shift = fit[:, :2] @ (c, c) + fit[:, 2] - c  # where the block's centre goes
        cfg = self.config
        if (np.abs(shift).max() > cfg.max_shift or abs(scale - 1) > cfg.max_scale_change
                or abs(angle) > cfg.max_rotation_deg):  # fmt: skip
            self.rejected += 1
            return False
        with self._cond:
            if generation != self._generation:  # the model changed meanwhile
                return False
            self._fits.append(fit)
            self.correction = np.median(np.stack(self._fits), axis=0)  # the embedder takes it at the next apply
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._landmarker.close()
